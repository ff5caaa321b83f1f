{#
    The check of the stored loyalty account against its whole ledger (not cut at as_of:
    the stored columns describe the source as it stands now): the ledger balance, the
    lifetime earned points and the tier they give against the seed thresholds, beside
    the stored points_balance, lifetime_points and tier.
#}
{#-
    Incremental by account (macros/incremental/slices.sql): a run rebuilds the accounts
    whose row changed or whose ledger entries changed (the entry's account before and
    after the change). Not cut at as_of: as_of moving changes nothing here.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['loyalty_account_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['loyalty_loyaltytransaction', 'loyalty_loyaltyaccount']) -%}
{%- set affected -%}
    select row_id as loyalty_account_id from ({{ raw_changes(window, 'loyalty_loyaltyaccount') }}) as accounts_changed
    union
    select account_id as loyalty_account_id
    from ({{ raw_changed(window, 'loyalty_loyaltytransaction', {'account_id': dbt.type_bigint()}) }}) as ledger_changed
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

accounts as (
    select changed.* from {{ ref('stg_loyalty_accounts') }} as changed
    where {{ slices_filter(window, {'loyalty_account_id': 'changed.loyalty_account_id'}) }}
),
ledger as (
    select changed.* from {{ ref('stg_loyalty_transactions') }} as changed
    where {{ slices_filter(window, {'loyalty_account_id': 'changed.loyalty_account_id'}) }}
),
tier_bands as (select * from {{ ref('int_loyalty_tiers_banded') }}),

ledger_totals as (

    select
        loyalty_account_id,
        sum(points) as ledger_balance,
        sum(case when points > 0 then points else 0 end) as ledger_lifetime_points
    from ledger
    group by loyalty_account_id

),

totalled as (

    select
        accounts.loyalty_account_id,
        accounts.website_id,
        accounts.user_id,
        accounts.tier as stored_tier,
        accounts.points_balance as stored_points_balance,
        accounts.lifetime_points as stored_lifetime_points,
        coalesce(ledger_totals.ledger_balance, 0) as ledger_balance,
        coalesce(ledger_totals.ledger_lifetime_points, 0) as ledger_lifetime_points
    from accounts
    left join ledger_totals on accounts.loyalty_account_id = ledger_totals.loyalty_account_id

),

final as (

    select
        totalled.*,
        tier_bands.tier as ledger_tier,
        coalesce(totalled.stored_tier <> tier_bands.tier, true) as has_tier_mismatch,
        coalesce(totalled.stored_points_balance <> totalled.ledger_balance, true) as has_balance_mismatch
    from totalled
    left join tier_bands
        on totalled.ledger_lifetime_points >= tier_bands.threshold_points
        and (
            tier_bands.next_threshold_points is null
            or totalled.ledger_lifetime_points < tier_bands.next_threshold_points
        )

)

select * from final
