with

upgrades as (select * from {{ ref('int_vip_upgrades_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
levels as (select * from {{ ref('vip_tier_levels') }}),

ranked as (

    select
        upgrades.website_id,
        upgrades.created_date as business_date,
        upgrades.from_tier,
        upgrades.to_tier,
        upgrades.user_id,
        upgrades.price,
        coalesce(to_levels.tier_rank > from_levels.tier_rank, false) as is_progression
    from upgrades
    inner join websites on upgrades.website_id = websites.website_id
    left join levels as from_levels on upgrades.from_tier = from_levels.tier
    left join levels as to_levels on upgrades.to_tier = to_levels.tier
    where upgrades.created_date <= websites.as_of_date

),

final as (

    select
        website_id,
        business_date,
        cast(from_tier as {{ dbt.type_string() }}) as from_tier,
        cast(to_tier as {{ dbt.type_string() }}) as to_tier,
        is_progression,
        cast(count(*) as {{ dbt.type_bigint() }}) as upgrades,
        cast(count(distinct user_id) as {{ dbt.type_bigint() }}) as customers,
        cast(sum(price) as {{ type_decimal(18, 2) }}) as upgrade_revenue
    from ranked
    group by website_id, business_date, from_tier, to_tier, is_progression

)

select * from final
