{#
    The loyalty members: one row per loyalty account with at least one ledger entry, its
    holder and the instant of its first entry, from which the holder's orders are a
    member's (METRICS.md, loyalty members vs non-members: a ledger entry with created_at
    <= the order's created_at).
#}
{#-
    Incremental by account (macros/incremental/slices.sql): a run rebuilds the accounts
    whose ledger entries changed (the entry's account before and after the change), and
    the accounts that came, went or changed holder or website (other account changes, a
    balance or a tier, change nothing here).
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
    select ledger_changed.account_id as loyalty_account_id
    from ({{ raw_changed(window, 'loyalty_loyaltytransaction', {'account_id': dbt.type_bigint()}) }}) as ledger_changed
    union
    select accounts_changed.row_id as loyalty_account_id
    from ({{ raw_changes(window, 'loyalty_loyaltyaccount') }}) as accounts_changed
    left join {{ raw_relation('loyalty_loyaltyaccount') }} as accounts_now on accounts_changed.row_id = accounts_now.id
    where accounts_changed.before is null
        or accounts_now.id is null
        or cast({{ json_text('accounts_changed.before', 'user_id') }} as {{ dbt.type_bigint() }})
        is distinct from accounts_now.user_id
        or cast({{ json_text('accounts_changed.before', 'website_id') }} as {{ dbt.type_bigint() }})
        is distinct from accounts_now.website_id
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

ledger as (
    select changed.* from {{ ref('stg_loyalty_transactions') }} as changed
    where {{ slices_filter(window, {'loyalty_account_id': 'changed.loyalty_account_id'}) }}
),
accounts as (
    select changed.* from {{ ref('stg_loyalty_accounts') }} as changed
    where {{ slices_filter(window, {'loyalty_account_id': 'changed.loyalty_account_id'}) }}
),

first_entries as (

    select
        loyalty_account_id,
        min(created_at) as first_entry_at
    from ledger
    group by loyalty_account_id

),

final as (

    select
        accounts.loyalty_account_id,
        accounts.website_id,
        accounts.user_id,
        first_entries.first_entry_at
    from accounts
    inner join first_entries on accounts.loyalty_account_id = first_entries.loyalty_account_id

)

select * from final
