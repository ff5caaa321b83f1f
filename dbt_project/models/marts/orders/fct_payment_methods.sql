{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days its orders changed on (before and after the change) and the days as_of moved.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched', 'orders_order']) -%}
{%- set affected -%}
    select website_id, created_date as business_date
    from ({{ delta_changed(window, 'int_orders_enriched', ['website_id', 'created_date']) }}) as orders_changed
    union
    {{ as_of_changed(this, upstream_relation('int_orders_to_date'), 'created_date', upstream_relation('int_websites_as_of')) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

orders as (
    select changed.* from {{ ref('int_orders_to_date') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.created_date'}) }}
),

method_days as (

    select
        website_id,
        created_date as business_date,
        payment_method,
        payment_method_group,
        count(*) as order_count,
        sum(total) as gross_revenue
    from orders
    where is_counted
    group by website_id, created_date, payment_method, payment_method_group

),

final as (

    select
        website_id,
        business_date,
        cast(payment_method as {{ dbt.type_string() }}) as payment_method,
        cast(payment_method_group as {{ dbt.type_string() }}) as payment_method_group,
        cast(order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(gross_revenue as {{ type_decimal(18, 2) }}) as gross_revenue,
        {{ pct(
            'order_count',
            'sum(order_count) over (partition by website_id, business_date)'
        ) }} as share_of_orders_pct
    from method_days

)

select * from final
