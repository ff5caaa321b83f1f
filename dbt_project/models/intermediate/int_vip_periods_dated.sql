{#
    The VIP periods of int_vip_upgrades_periodized (D1's expiry rule: the latest purchase
    ends at the current tier's expires_at, earlier ones at the next purchase) in business
    dates: a customer holds the tier at the end of every date d with
    from_date <= d < to_date (to_date NULL: still held).
#}
with

periods as (select * from {{ ref('int_vip_upgrades_periodized') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
levels as (select * from {{ ref('vip_tier_levels') }}),

located as (

    select
        periods.vip_upgrade_id,
        periods.user_id,
        periods.website_id,
        periods.tier,
        levels.tier_rank,
        periods.valid_from,
        periods.valid_to
    from periods
    inner join websites on periods.website_id = websites.website_id
    left join levels on periods.tier = levels.tier

),

final as (

    {#- Each date in the zone in force at its instant (with_business_dates). #}
    {{ with_business_dates('located', {'valid_from': 'from_date', 'valid_to': 'to_date'}) }}

)

select * from final
