{#- The kitchen marts' affected website days (macros/incremental/slices.sql): the
    confirmation days (business date of confirmed_at, in the time zone the website had at
    that instant) of the orders int_orders_enriched removed or added since the model last
    ran: an order's old and new rows, so a changed confirmed_at rebuilds both days. -#}
{% macro kitchen_days_changed(window) -%}
    {%- set orders_changed -%}
        select orders_delta.website_id, orders_delta.confirmed_at
        from ({{ delta_changed(window, 'int_orders_enriched', ['website_id', 'confirmed_at']) }}) as orders_delta
    {%- endset -%}
    {{ website_days_of(orders_changed, ['confirmed_at']) }}
{%- endmacro %}
