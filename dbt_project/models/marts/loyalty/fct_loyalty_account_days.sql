with

account_days as (select * from {{ ref('int_loyalty_ledger_days_accumulated') }}),

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
