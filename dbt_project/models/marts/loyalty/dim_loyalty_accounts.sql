with

accounts as (select * from {{ ref('int_loyalty_accounts_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
account_days as (select * from {{ ref('int_loyalty_ledger_days_accumulated') }}),
tiers as (select * from {{ ref('loyalty_tiers') }}),

{#- An account without ledger entries holds the lowest tier. -#}
lowest_tier as (

    select tiers.tier
    from tiers
    where tiers.tier_rank = (select min(all_tiers.tier_rank) from tiers as all_tiers)

),

{#- The account's state as of as_of is its last change on or before as_of. -#}
latest as (

    select *
    from account_days
    where next_business_date is null

),

final as (

    select
        accounts.loyalty_account_id,
        accounts.website_id,
        accounts.user_id,
        accounts.created_date,
        websites.as_of_date,
        cast(coalesce(latest.balance, 0) as {{ dbt.type_bigint() }}) as points_balance,
        cast(coalesce(latest.lifetime_earned, 0) as {{ dbt.type_bigint() }}) as lifetime_earned_points,
        cast(coalesce(latest.tier, lowest_tier.tier) as {{ dbt.type_string() }}) as tier,
        coalesce(latest.is_active, false) as is_active,
        latest.business_date as last_activity_date
    from accounts
    inner join websites on accounts.website_id = websites.website_id
    cross join lowest_tier
    left join latest on accounts.loyalty_account_id = latest.loyalty_account_id
    where accounts.created_date <= websites.as_of_date

)

select * from final
