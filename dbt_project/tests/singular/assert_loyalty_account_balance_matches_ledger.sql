{#
    SOURCE_SCHEMA.md's invariant: loyalty_loyaltyaccount.points_balance = Σ the account's
    ledger points. One row per account that breaks it, naming it; a warning: the marts
    use the ledger.
#}
{{ config(severity='warn') }}

select
    loyalty_account_id,
    website_id,
    user_id,
    stored_points_balance,
    ledger_balance,
    (
        'loyalty account ' || cast(loyalty_account_id as varchar) || ' stores balance '
        || coalesce(cast(stored_points_balance as varchar), 'NULL') || ' but its ledger sums to '
        || cast(ledger_balance as varchar)
    ) as finding
from {{ ref('int_loyalty_accounts_reconciled') }}
where has_balance_mismatch
