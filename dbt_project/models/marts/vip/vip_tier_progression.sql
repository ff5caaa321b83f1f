{{ config(materialized='table_macro', parameters=['date_from', 'date_to', 'website := null']) }}

with

tier_days as (select * from {{ ref('fct_vip_tiers_daily') }}),
upgrade_days as (select * from {{ ref('fct_vip_upgrades_daily') }}),

arguments as (

    select
        cast({{ table_macro_arg('date_from') }} as date) as window_start,
        cast({{ table_macro_arg('date_to') }} as date) as window_end,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter

),

{#- "At the window's start" = at the end of the day before date_from: the last calendar
    day on or before it. -#}
start_days as (

    select
        tier_days.website_id,
        max(tier_days.business_date) as business_date
    from tier_days
    cross join arguments
    where tier_days.business_date < arguments.window_start
        and (arguments.website_filter is null or tier_days.website_id = arguments.website_filter)
    group by tier_days.website_id

),

at_start as (

    select
        tier_days.website_id,
        tier_days.tier,
        tier_days.tier_rank,
        tier_days.customers
    from tier_days
    inner join start_days
        on tier_days.website_id = start_days.website_id
        and tier_days.business_date = start_days.business_date

),

window_upgrades as (

    select
        upgrade_days.website_id,
        upgrade_days.from_tier,
        sum(upgrade_days.upgrades) as upgrades
    from upgrade_days
    cross join arguments
    where upgrade_days.is_progression
        and upgrade_days.business_date between arguments.window_start and arguments.window_end
    group by upgrade_days.website_id, upgrade_days.from_tier

),

final as (

    select
        at_start.website_id,
        arguments.window_start as date_from,
        arguments.window_end as date_to,
        at_start.tier as from_tier,
        at_start.customers as customers_at_start,
        cast(coalesce(window_upgrades.upgrades, 0) as {{ dbt.type_bigint() }}) as upgrades_to_higher_tier,
        {{ pct('coalesce(window_upgrades.upgrades, 0)', 'at_start.customers') }} as progression_rate
    from at_start
    cross join arguments
    left join window_upgrades
        on at_start.website_id = window_upgrades.website_id
        and at_start.tier = window_upgrades.from_tier
    where at_start.tier_rank < (select max(tier_days.tier_rank) from tier_days)

)

select * from final
