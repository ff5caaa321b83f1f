{#- Distinct customers of any window are a count of distinct user_id over its days:
    unlike unique_customers of fct_daily_snapshot, they cannot be summed from days. -#}
{#-
    Incremental by website, business day and customer: by row (macros/incremental/slices.sql):
    a run rebuilds the customer days its counted orders changed on (before and after the
    change: the net of int_orders_enriched's delta over the columns read), and every
    customer of the days as_of moved (as_of_changed). Not by day: late changes (a
    cancellation, a deleted order) touch a few customers of many past days.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date', 'user_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched']) -%}
{%- set affected -%}
    with

    moved_days as (
        {{ as_of_changed(this, upstream_relation('int_orders_to_date'), 'created_date',
            upstream_relation('int_websites_as_of')) }}
    )

    select website_id, created_date as business_date, user_id
    from ({{ delta_net_changed(window, 'int_orders_enriched',
        ['website_id', 'created_date', 'user_id', 'is_counted', 'total']) }}) as orders_changed
    union
    select orders.website_id, orders.created_date as business_date, orders.user_id
    from {{ upstream_relation('int_orders_to_date') }} as orders
    inner join moved_days
        on orders.website_id = moved_days.website_id
        and orders.created_date = moved_days.business_date
    union
    select held.website_id, held.business_date, held.user_id
    from {{ this }} as held
    inner join moved_days
        on held.website_id = moved_days.website_id
        and held.business_date = moved_days.business_date
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

orders as (
    select * from {{ ref('int_orders_to_date') }} as changed  -- noqa: AL05
    where {{ slices_filter(window, {
        'website_id': 'changed.website_id',
        'business_date': 'changed.created_date',
        'user_id': 'changed.user_id',
    }) }}
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
