{#-
    Incremental by account and business date (macros/incremental/slices.sql): each row is
    one row of int_loyalty_ledger_days_accumulated, so a run rebuilds the account days that
    model removed or added.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['loyalty_account_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_loyalty_ledger_days_accumulated']) -%}
{%- set affected -%}
    {{ delta_changed(window, 'int_loyalty_ledger_days_accumulated', ['loyalty_account_id', 'business_date']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

account_days as (
    select changed.* from {{ ref('int_loyalty_ledger_days_accumulated') }} as changed
    where {{ slices_filter(window, {
        'loyalty_account_id': 'changed.loyalty_account_id', 'business_date': 'changed.business_date'}) }}
),

final as (

    select
        website_id,
        loyalty_account_id,
        business_date,
        next_business_date,
        cast(points_issued as {{ dbt.type_bigint() }}) as points_issued,
        cast(points_redeemed as {{ dbt.type_bigint() }}) as points_redeemed,
        cast(points_expired as {{ dbt.type_bigint() }}) as points_expired,
        cast(points_change as {{ dbt.type_bigint() }}) as points_change,
        cast(ledger_entries as {{ dbt.type_bigint() }}) as ledger_entries,
        cast(redemptions as {{ dbt.type_bigint() }}) as redemptions,
        cast(balance as {{ dbt.type_bigint() }}) as points_balance,
        cast(lifetime_earned as {{ dbt.type_bigint() }}) as lifetime_earned_points,
        cast(tier as {{ dbt.type_string() }}) as tier,
        is_active
    from account_days

)

select * from final
