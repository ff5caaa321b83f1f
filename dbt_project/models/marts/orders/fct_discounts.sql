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

counted_orders as (
    select * from orders
    where is_counted
),

day_revenue as (

    select
        website_id,
        created_date as business_date,
        sum(total) as gross_revenue
    from counted_orders
    group by website_id, created_date

),

discount_days as (

    select
        website_id,
        created_date as business_date,
        {#- A discount without a type is kept and shown, not dropped. -#}
        coalesce(discount_type, 'unspecified') as discount_type,
        count(*) as order_count,
        sum(discount_amount) as discount_total
    from counted_orders
    where discount_type is not null or discount_amount <> 0
    group by website_id, created_date, coalesce(discount_type, 'unspecified')

),

final as (

    select
        discount_days.website_id,
        discount_days.business_date,
        cast(discount_days.discount_type as {{ dbt.type_string() }}) as discount_type,
        cast(discount_days.order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(discount_days.discount_total as {{ type_decimal(18, 2) }}) as discount_total,
        cast(day_revenue.gross_revenue as {{ type_decimal(18, 2) }}) as gross_revenue,
        {{ pct('discount_days.discount_total', 'day_revenue.gross_revenue') }} as share_of_gross_revenue_pct
    from discount_days
    inner join day_revenue
        on discount_days.website_id = day_revenue.website_id
        and discount_days.business_date = day_revenue.business_date

)

select * from final
