with

redemptions as (select * from {{ ref('int_redemptions_enriched') }}),

final as (

    select
        website_id,
        business_date,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(count(*) as {{ dbt.type_bigint() }}) as redemption_count,
        cast(sum(points_spent) as {{ dbt.type_bigint() }}) as points_spent,
        cast(sum(value_amount) as {{ type_decimal(18, 2) }}) as value_amount
    from redemptions
    group by website_id, business_date, category

)

select * from final
