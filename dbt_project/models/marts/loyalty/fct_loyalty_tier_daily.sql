with

days as (select * from {{ ref('int_loyalty_days_spined') }}),
account_days as (select * from {{ ref('int_loyalty_ledger_days_accumulated') }}),
tiers as (select * from {{ ref('loyalty_tiers') }}),

{#- An account's state is its tier while active (balance > 0), else none. A change of
    state is -1 for the old tier and +1 for the new one on that day; running those sums
    per tier gives the active clients per tier of every day. -#}
transitions as (

    select
        website_id,
        business_date,
        active_tier as tier,
        1 as client_change
    from account_days
    where active_tier is not null
    union all
    select
        website_id,
        business_date,
        previous_active_tier as tier,
        -1 as client_change
    from account_days
    where previous_active_tier is not null

),

tier_flows as (

    select
        website_id,
        business_date,
        tier,
        sum(client_change) as client_change
    from transitions
    group by website_id, business_date, tier

),

tier_days as (

    select
        days.website_id,
        days.business_date,
        tiers.tier,
        tiers.tier_rank,
        tiers.threshold_points,
        sum(coalesce(tier_flows.client_change, 0)) over (
            partition by days.website_id, tiers.tier
            order by days.business_date
            rows between unbounded preceding and current row
        ) as active_clients
    from days
    cross join tiers
    left join tier_flows
        on days.website_id = tier_flows.website_id
        and days.business_date = tier_flows.business_date
        and tiers.tier = tier_flows.tier

),

final as (

    select
        website_id,
        business_date,
        cast(tier as {{ dbt.type_string() }}) as tier,
        cast(tier_rank as {{ dbt.type_int() }}) as tier_rank,
        cast(active_clients as {{ dbt.type_bigint() }}) as active_clients,
        {{ pct('active_clients', 'sum(active_clients) over (partition by website_id, business_date)') }} as percentage,
        cast(threshold_points as {{ dbt.type_int() }}) as threshold
    from tier_days

)

select * from final
