{#
    The per-account "change events" of the loyalty ledger: one row per account and
    business date with a ledger entry or a completed redemption, up to as_of, carrying
    the day's flows and the account's state at the end of that day (running balance,
    lifetime earned points, tier, active). The state holds until next_business_date, so
    any date's state is the row with business_date <= d < next_business_date: no
    account × day cross join is ever needed.
#}
{{ config(materialized='table') }}

with

ledger as (select * from {{ ref('stg_loyalty_transactions') }}),
redemptions as (select * from {{ ref('stg_redemptions') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
tiers as (select * from {{ ref('loyalty_tiers') }}),

ledger_days as (

    select
        ledger.website_id,
        ledger.loyalty_account_id,
        ledger.created_date as business_date,
        sum(case when ledger.points > 0 then ledger.points else 0 end) as points_issued,
        sum(case when ledger.transaction_type = 'redeem' then -ledger.points else 0 end) as points_redeemed,
        sum(case when ledger.transaction_type = 'expire' then -ledger.points else 0 end) as points_expired,
        sum(ledger.points) as points_change,
        count(*) as ledger_entries
    from ledger
    inner join websites on ledger.website_id = websites.website_id
    where ledger.created_date <= websites.as_of_date
    group by ledger.website_id, ledger.loyalty_account_id, ledger.created_date

),

redemption_days as (

    select
        redemptions.website_id,
        redemptions.loyalty_account_id,
        redemptions.created_date as business_date,
        count(*) as redemptions
    from redemptions
    inner join websites on redemptions.website_id = websites.website_id
    where redemptions.status = 'completed'
        and redemptions.created_date <= websites.as_of_date
    group by redemptions.website_id, redemptions.loyalty_account_id, redemptions.created_date

),

account_days as (

    select
        coalesce(ledger_days.website_id, redemption_days.website_id) as website_id,
        coalesce(ledger_days.loyalty_account_id, redemption_days.loyalty_account_id) as loyalty_account_id,
        coalesce(ledger_days.business_date, redemption_days.business_date) as business_date,
        coalesce(ledger_days.points_issued, 0) as points_issued,
        coalesce(ledger_days.points_redeemed, 0) as points_redeemed,
        coalesce(ledger_days.points_expired, 0) as points_expired,
        coalesce(ledger_days.points_change, 0) as points_change,
        coalesce(ledger_days.ledger_entries, 0) as ledger_entries,
        coalesce(redemption_days.redemptions, 0) as redemptions
    from ledger_days
    full outer join redemption_days
        on ledger_days.loyalty_account_id = redemption_days.loyalty_account_id
        and ledger_days.business_date = redemption_days.business_date

),

accumulated as (

    select
        account_days.*,
        sum(account_days.points_change) over account_history as balance,
        sum(account_days.points_issued) over account_history as lifetime_earned,
        lead(account_days.business_date) over (
            partition by account_days.loyalty_account_id order by account_days.business_date
        ) as next_business_date
    from account_days
    window account_history as (
        partition by account_days.loyalty_account_id
        order by account_days.business_date
        rows between unbounded preceding and current row
    )

),

tier_bands as (

    select
        tier,
        tier_rank,
        threshold_points,
        lead(threshold_points) over (order by threshold_points) as next_threshold_points
    from tiers

),

tiered as (

    select
        accumulated.*,
        tier_bands.tier,
        tier_bands.tier_rank,
        accumulated.balance > 0 as is_active
    from accumulated
    left join tier_bands
        on accumulated.lifetime_earned >= tier_bands.threshold_points
        and (tier_bands.next_threshold_points is null or accumulated.lifetime_earned < tier_bands.next_threshold_points)

),

final as (

    select
        tiered.*,
        case when tiered.is_active then tiered.tier end as active_tier,
        lag(case when tiered.is_active then tiered.tier end) over (
            partition by tiered.loyalty_account_id order by tiered.business_date
        ) as previous_active_tier,
        coalesce(lag(tiered.is_active) over (
            partition by tiered.loyalty_account_id order by tiered.business_date
        ), false) as was_active
    from tiered

)

select * from final
