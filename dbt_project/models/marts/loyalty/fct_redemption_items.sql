with

redemptions as (select * from {{ ref('int_redemptions_enriched') }}),

final as (

    select
        website_id,
        business_date,
        redemption_item_id,
        cast(item_name as {{ dbt.type_string() }}) as item_name,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(item_type as {{ dbt.type_string() }}) as item_type,
        cast(points_required as {{ dbt.type_int() }}) as points_required,
        cast(count(*) as {{ dbt.type_bigint() }}) as redemption_count,
        cast(count(distinct loyalty_account_id) as {{ dbt.type_bigint() }}) as redeeming_clients,
        cast(sum(points_spent) as {{ dbt.type_bigint() }}) as points_spent,
        cast(sum(value_amount) as {{ type_decimal(18, 2) }}) as value_amount
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
