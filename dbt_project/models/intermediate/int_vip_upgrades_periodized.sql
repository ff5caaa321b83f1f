{#
    The VIP tier a user held over time, from the append-only upgrade history: each
    purchase holds its tier from its created_at until the next purchase; the latest one
    until the current tier's vip_viptier.expires_at (NULL: open). Only the current tier's
    expiry is known, so an earlier tier ends only when superseded. A user with a current
    tier but no upgrade row (history lost) gets one period from upgraded_at to expires_at.
#}
with

upgrades as (select * from {{ ref('int_vip_upgrades_dated') }}),
vip_tiers as (select * from {{ ref('int_vip_tiers_dated') }}),

upgrade_periods as (

    select
        upgrades.vip_upgrade_id,
        upgrades.user_id,
        upgrades.website_id,
        upgrades.to_tier as tier,
        upgrades.created_at as valid_from,
        lead(upgrades.created_at) over (
            partition by upgrades.user_id
            order by upgrades.created_at, upgrades.vip_upgrade_id
        ) as next_upgrade_at
    from upgrades

),

from_history as (

    select
        upgrade_periods.vip_upgrade_id,
        upgrade_periods.user_id,
        upgrade_periods.website_id,
        upgrade_periods.tier,
        upgrade_periods.valid_from,
        coalesce(upgrade_periods.next_upgrade_at, vip_tiers.expires_at) as valid_to
    from upgrade_periods
    left join vip_tiers on upgrade_periods.user_id = vip_tiers.user_id

),

without_history as (

    select
        cast(null as {{ dbt.type_bigint() }}) as vip_upgrade_id,
        vip_tiers.user_id,
        vip_tiers.website_id,
        vip_tiers.tier_level as tier,
        vip_tiers.upgraded_at as valid_from,
        vip_tiers.expires_at as valid_to
    from vip_tiers
    left join upgrades on vip_tiers.user_id = upgrades.user_id
    where upgrades.user_id is null

),

final as (

    select * from from_history
    union all
    select * from without_history

)

select * from final
