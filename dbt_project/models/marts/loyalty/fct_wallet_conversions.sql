with

redemptions as (select * from {{ ref('int_redemptions_enriched') }}),

final as (

    select
        website_id,
        business_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as redemption_count,
        cast(count(distinct loyalty_account_id) as {{ dbt.type_bigint() }}) as converting_clients,
        cast(sum(points_spent) as {{ dbt.type_bigint() }}) as points_spent,
        cast(sum(value_amount) as {{ type_decimal(18, 2) }}) as value_amount
    from redemptions
    where item_type = 'wallet_credit'
    group by website_id, business_date

)

select * from final
