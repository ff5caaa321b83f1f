with

redemptions as (select * from {{ ref('int_redemptions_enriched') }}),

final as (

    select
        website_id,
        business_date,
        cast(category as varchar) as category,
        cast(count(*) as bigint) as redemption_count,
        cast(sum(points_spent) as bigint) as points_spent,
        cast(sum(value_amount) as decimal(18, 2)) as value_amount
    from redemptions
    group by website_id, business_date, category

)

select * from final
