with

days as (select * from {{ ref('int_website_days_spined') }}),
periods as (select * from {{ ref('int_vip_periods_dated') }}),
levels as (select * from {{ ref('vip_tier_levels') }}),

tier_days as (

    select
        days.website_id,
        days.business_date,
        levels.tier,
        levels.tier_rank
    from days
    cross join levels

),

{#- +1 the day a period starts, -1 the day it ends; the calendar's own days carry 0 so
    that the running sum, which also sees periods started before the calendar, has a row
    on every day. -#}
changes as (

    select
        website_id,
        tier,
        from_date as business_date,
        1 as customer_change
    from periods
    union all
    select
        website_id,
        tier,
        to_date as business_date,
        -1 as customer_change
    from periods
    where to_date is not null
    union all
    select
        website_id,
        tier,
        business_date,
        0 as customer_change
    from tier_days

),

running as (

    select
        website_id,
        tier,
        business_date,
        sum(sum(customer_change)) over (
            partition by website_id, tier
            order by business_date
            rows between unbounded preceding and current row
        ) as customers
    from changes
    group by website_id, tier, business_date

),

final as (

    select
        tier_days.website_id,
        tier_days.business_date,
        cast(tier_days.tier as {{ dbt.type_string() }}) as tier,
        cast(tier_days.tier_rank as {{ dbt.type_int() }}) as tier_rank,
        cast(running.customers as {{ dbt.type_bigint() }}) as customers,
        {{ pct(
            'running.customers',
            'sum(running.customers) over (partition by tier_days.website_id, tier_days.business_date)'
        ) }} as percentage
    from tier_days
    inner join running
        on tier_days.website_id = running.website_id
        and tier_days.tier = running.tier
        and tier_days.business_date = running.business_date

)

select * from final
