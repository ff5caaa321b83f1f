{#- Distinct customers of any window are a count of distinct user_id over its days:
    unlike unique_customers of fct_daily_snapshot, they cannot be summed from days. -#}
{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days its counted orders changed on (before and after the change: the net of
    int_orders_enriched's delta over the columns read) and the days as_of moved.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched']) -%}
{%- set affected -%}
    select website_id, created_date as business_date
    from ({{ delta_net_changed(window, 'int_orders_enriched',
        ['website_id', 'created_date', 'user_id', 'is_counted', 'total']) }}) as orders_changed
    union
    {{ as_of_changed(this, upstream_relation('int_orders_to_date'), 'created_date', upstream_relation('int_websites_as_of')) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

orders as (
    select * from {{ ref('int_orders_to_date') }} as changed  -- noqa: AL05
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.created_date'}) }}
),

final as (

    select
        website_id,
        created_date as business_date,
        user_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as order_count,
        cast(sum(total) as {{ type_decimal(18, 2) }}) as gross_revenue
    from orders
    where is_counted
    group by website_id, created_date, user_id

)

select * from final
