{#
    VIP tier purchases with their user's website and the business date they were bought
    on. vip_vipupgrade has no website_id: it is its user's, and so is the time zone of
    its business dates. A row whose user is missing keeps NULLs there (the not_null test
    on website_id reports it).
#}
with

upgrades as (select * from {{ ref('stg_vip_upgrades') }}),
users as (select * from {{ ref('stg_users') }}),

located as (

    select
        upgrades.*,
        users.website_id
    from upgrades
    left join users on upgrades.user_id = users.user_id

),

final as (

    {{ with_business_dates('located', ['created_at']) }}

)

select * from final
