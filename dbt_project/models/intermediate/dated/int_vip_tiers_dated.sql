{#
    Current VIP tiers with their user's website and the business dates of their upgrade
    and expiry. vip_viptier has no website_id: it is its user's, and so is the time zone
    of its business dates. A row whose user is missing keeps NULLs there (the not_null
    test on website_id reports it).
#}
with

vip_tiers as (select * from {{ ref('stg_vip_tiers') }}),
users as (select * from {{ ref('stg_users') }}),

located as (

    select
        vip_tiers.*,
        users.website_id
    from vip_tiers
    left join users on vip_tiers.user_id = users.user_id

),

final as (

    {{ with_business_dates('located', ['upgraded_at', 'expires_at']) }}

)

select * from final
