{#
    The loyalty activity of each account per business date, up to as_of: the day's ledger
    flows (METRICS.md: issued = positive points, redeemed = -points of 'redeem', expired =
    -points of 'expire') and its completed redemptions. A day with only a redemption
    record (no ledger entry) still gets a row.
#}
{#-
    Incremental by account and business date (macros/incremental/slices.sql): a day is the
    account's entries and completed redemptions of that date. A run rebuilds the days a
    changed entry or redemption can be on (before and after the change: its UTC date and
    the days either side), every day of the accounts whose website changed (or that came
    or went), and the days a move of as_of brought in (entries and redemptions dated after
    the last day the table holds for their website, up to as_of) or took out (after as_of).
    An entry written ahead of its date (an expiry dated later than what caused it) enters
    the day as_of reaches it, with no change logged.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['loyalty_account_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(
    mapped=['loyalty_loyaltytransaction', 'loyalty_redemption', 'loyalty_loyaltyaccount']) -%}
{%- set activity -%}
    (
        select
            ledger_rows.website_id,
            ledger_rows.loyalty_account_id,
            ledger_rows.created_date as business_date,
            ledger_rows.created_at
        from {{ ref('int_loyalty_transactions_dated') }} as ledger_rows
        union all
        select
            redemption_rows.website_id,
            redemption_rows.loyalty_account_id,
            redemption_rows.created_date as business_date,
            redemption_rows.created_at
        from {{ ref('int_redemptions_dated') }} as redemption_rows
        where redemption_rows.status = 'completed'
    )
{%- endset -%}
{%- set affected -%}
    {{ account_days_around(raw_changed(window, 'loyalty_loyaltytransaction',
        {'account_id': dbt.type_bigint(), 'created_at': type_timestamp_tz()})) }}
    union
    {{ account_days_around(raw_changed(window, 'loyalty_redemption',
        {'account_id': dbt.type_bigint(), 'created_at': type_timestamp_tz()})) }}
    union
    select held.loyalty_account_id, held.business_date
    from {{ this }} as held
    where held.loyalty_account_id in ({{ accounts_moved(window) }})
    union
    select moved.loyalty_account_id, moved.business_date
    from {{ activity }} as moved
    where moved.loyalty_account_id in ({{ accounts_moved(window) }})
    union
    {{ as_of_moved(window, this, 'business_date', activity, 'business_date',
        ['loyalty_account_id', 'business_date'], ref('int_websites_as_of'), since='created_at') }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

ledger as (
    select changed.* from {{ ref('int_loyalty_transactions_dated') }} as changed
    where {{ slices_filter(window, {
        'loyalty_account_id': 'changed.loyalty_account_id', 'business_date': 'changed.created_date'}) }}
),
redemptions as (
    select changed.* from {{ ref('int_redemptions_dated') }} as changed
    where {{ slices_filter(window, {
        'loyalty_account_id': 'changed.loyalty_account_id', 'business_date': 'changed.created_date'}) }}
),
websites as (select * from {{ ref('int_websites_as_of') }}),

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

final as (

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

)

select * from final
