{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days its orders changed on (before and after the change) and the days that joined
    or left the calendar.
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
    {{ calendar_changed(ref('int_website_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

days as (
    select changed.* from {{ ref('int_website_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
orders as (
    select changed.* from {{ ref('int_orders_to_date') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.created_date'}) }}
),

order_days as (

    select
        website_id,
        created_date as business_date,
        count(*) as total_orders,
        sum(total) as gross_revenue,
        sum(case when is_vip_at_order then 1 else 0 end) as vip_orders,
        sum(case when is_vip_at_order then total else 0 end) as vip_revenue
    from orders
    where is_counted
    group by website_id, created_date

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(order_days.total_orders, 0) as {{ dbt.type_bigint() }}) as total_orders,
        cast(coalesce(order_days.gross_revenue, 0) as {{ type_decimal(18, 2) }}) as gross_revenue,
        cast(coalesce(order_days.vip_orders, 0) as {{ dbt.type_bigint() }}) as vip_orders,
        cast(coalesce(order_days.vip_revenue, 0) as {{ type_decimal(18, 2) }}) as vip_revenue,
        {{ pct('order_days.vip_revenue', 'order_days.gross_revenue') }} as vip_revenue_share
    from days
    left join order_days
        on days.website_id = order_days.website_id
        and days.business_date = order_days.business_date

)

select * from final
