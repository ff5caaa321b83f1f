{#
    METRICS.md, Loyalty: "a check reports accounts whose stored tier disagrees" with the
    tier its ledger gives (lifetime earned points against the seed thresholds). One row
    per disagreeing account, naming it; a warning, not a failure: the marts use the
    ledger-derived tier either way. `dbt show -s int_loyalty_accounts_reconciled` or a
    query on it lists them too.
#}
{{ config(severity='warn') }}

select
    loyalty_account_id,
    website_id,
    user_id,
    stored_tier,
    ledger_tier,
    ledger_lifetime_points,
    {{ dbt.concat([
        "'loyalty account '",
        dbt.cast('loyalty_account_id', dbt.type_string()),
        "' stores tier '",
        "coalesce(stored_tier, 'NULL')",
        "' but its ledger gives '",
        "coalesce(ledger_tier, 'NULL')",
    ]) }} as finding
from {{ ref('int_loyalty_accounts_reconciled') }}
where has_tier_mismatch
