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

final as (

    select
        periods.vip_upgrade_id,
        periods.user_id,
        periods.website_id,
        periods.tier,
        levels.tier_rank,
        periods.valid_from,
        periods.valid_to,
        {{ business_date('periods.valid_from', 'websites.timezone') }} as from_date,
        {{ business_date('periods.valid_to', 'websites.timezone') }} as to_date
    from periods
    inner join websites on periods.website_id = websites.website_id
    left join levels on periods.tier = levels.tier

)

select * from final
