{{ config(materialized='table_macro', parameters=['date_from', 'date_to', 'website := null']) }}

with

tier_days as (select * from {{ ref('fct_vip_tiers_daily') }}),

arguments as (

    select
        cast({{ table_macro_arg('date_from') }} as date) as window_start,
        cast({{ table_macro_arg('date_to') }} as date) as window_end,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter

),

{#- VIP customers (any tier) at the end of each calendar day. -#}
vip_days as (

    select
        tier_days.website_id,
        tier_days.business_date,
        sum(tier_days.customers) as vip_customers
    from tier_days
    cross join arguments
    where arguments.website_filter is null or tier_days.website_id = arguments.website_filter
    group by tier_days.website_id, tier_days.business_date

),

{#- "At the window's start" = at the end of the day before date_from; "at its end" = at
    the end of date_to: the last calendar day on or before each (as vip_tier_progression). -#}
bounds as (

    select
        vip_days.website_id,
        max(case when vip_days.business_date < arguments.window_start then vip_days.business_date end)
            as start_day,
        max(case when vip_days.business_date <= arguments.window_end then vip_days.business_date end)
            as end_day
    from vip_days
    cross join arguments
    group by vip_days.website_id

),

final as (

    select
        bounds.website_id,
        arguments.window_start as date_from,
        arguments.window_end as date_to,
        cast(coalesce(at_start.vip_customers, 0) as {{ dbt.type_bigint() }}) as vip_customers_at_start,
        cast(coalesce(at_end.vip_customers, 0) as {{ dbt.type_bigint() }}) as vip_customers_at_end,
        {{ pct(
            'coalesce(at_end.vip_customers, 0) - coalesce(at_start.vip_customers, 0)',
            'at_start.vip_customers'
        ) }} as growth_rate
    from bounds
    cross join arguments
    left join vip_days as at_start
        on bounds.website_id = at_start.website_id
        and bounds.start_day = at_start.business_date
    left join vip_days as at_end
        on bounds.website_id = at_end.website_id
        and bounds.end_day = at_end.business_date

)

select * from final
