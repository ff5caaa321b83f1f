with

redemptions as (select * from {{ ref('int_redemptions_enriched') }}),

final as (

    select
        website_id,
        business_date,
        cast(count(*) as bigint) as redemption_count,
        cast(count(distinct loyalty_account_id) as bigint) as converting_clients,
        cast(sum(points_spent) as bigint) as points_spent,
        cast(sum(value_amount) as decimal(18, 2)) as value_amount
    from redemptions
    where item_type = 'wallet_credit'
    group by website_id, business_date

)

select * from final
