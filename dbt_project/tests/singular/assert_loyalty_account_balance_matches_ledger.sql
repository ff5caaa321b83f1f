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
    {{ dbt.concat([
        "'loyalty account '",
        dbt.cast('loyalty_account_id', dbt.type_string()),
        "' stores balance '",
        "coalesce(" ~ dbt.cast('stored_points_balance', dbt.type_string()) ~ ", 'NULL')",
        "' but its ledger sums to '",
        dbt.cast('ledger_balance', dbt.type_string()),
    ]) }} as finding
from {{ ref('int_loyalty_accounts_reconciled') }}
where has_balance_mismatch
