{#-
    Incremental by website and business day (macros/incremental/slices.sql), as
    fct_vip_revenue_daily: a run rebuilds the days its orders changed on (before and after
    the change) and the days that joined or left the calendar.
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
levels as (select * from {{ ref('vip_tier_levels') }}),

{#- 'none' (no tier held at order time) ranks below every tier. -#}
tiers as (

    select
        cast('none' as {{ dbt.type_string() }}) as tier,
        0 as tier_rank
    union all
    select
        cast(levels.tier as {{ dbt.type_string() }}) as tier,
        levels.tier_rank
    from levels

),

tier_days as (

    select
        website_id,
        created_date as business_date,
        coalesce(vip_tier_at_order, 'none') as tier,
        count(*) as orders,
        sum(total) as gross_revenue
    from orders
    where is_counted
    group by website_id, created_date, coalesce(vip_tier_at_order, 'none')

),

day_totals as (

    select
        website_id,
        business_date,
        sum(gross_revenue) as gross_revenue
    from tier_days
    group by website_id, business_date

),

final as (

    select
        days.website_id,
        days.business_date,
        tiers.tier,
        cast(tiers.tier_rank as {{ dbt.type_int() }}) as tier_rank,
        cast(coalesce(tier_days.orders, 0) as {{ dbt.type_bigint() }}) as orders,
        cast(coalesce(tier_days.gross_revenue, 0) as {{ type_decimal(18, 2) }}) as gross_revenue,
        {{ pct('coalesce(tier_days.gross_revenue, 0)', 'day_totals.gross_revenue') }} as share  -- noqa: RF04
    from days
    cross join tiers
    left join tier_days
        on days.website_id = tier_days.website_id
        and days.business_date = tier_days.business_date
        and tiers.tier = tier_days.tier
    left join day_totals
        on days.website_id = day_totals.website_id
        and days.business_date = day_totals.business_date

)

select * from final
