with

redemptions as (select * from {{ ref('int_redemptions_enriched') }}),

final as (

    select
        website_id,
        business_date,
        redemption_item_id,
        cast(item_name as varchar) as item_name,
        cast(category as varchar) as category,
        cast(item_type as varchar) as item_type,
        cast(points_required as integer) as points_required,
        cast(count(*) as bigint) as redemption_count,
        cast(count(distinct loyalty_account_id) as bigint) as redeeming_clients,
        cast(sum(points_spent) as bigint) as points_spent,
        cast(sum(value_amount) as decimal(18, 2)) as value_amount
    from redemptions
    group by
        website_id,
        business_date,
        redemption_item_id,
        item_name,
        category,
        item_type,
        points_required

)

select * from final
