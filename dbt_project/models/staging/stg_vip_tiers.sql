with

source as (

    select * from {{ source('raw', 'vip_viptier') }}

),

{#- vip_viptier has no website_id: its website (and so the time zone of its business
    dates) is looked up one hop away, on accounts_user. A row whose parent is missing keeps NULLs
    there, and the not_null test on website_id reports it. -#}
parents as (

    select
        cast(id as bigint) as parent_id,
        cast(website_id as bigint) as website_id
    from {{ source('raw', 'accounts_user') }}

),

websites as (

    select
        cast(id as bigint) as website_id,
        cast(timezone as varchar) as timezone
    from {{ source('raw', 'accounts_website') }}

),

renamed as (

    select
        ----------  ids
        cast(id as bigint) as vip_tier_id,
        cast(user_id as bigint) as user_id,

        ----------  text
        cast(tier_level as varchar) as tier_level,

        ----------  numbers
        cast(discount_percent as decimal(5, 2)) as discount_percent,

        ----------  timestamps
        cast(upgraded_at as timestamptz) as upgraded_at,
        cast(expires_at as timestamptz) as expires_at,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.vip_tier_id,
        parents.website_id,
        renamed.user_id,

        ----------  text
        renamed.tier_level,

        ----------  numbers
        renamed.discount_percent,

        ----------  timestamps
        renamed.upgraded_at,
        renamed.expires_at,
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.upgraded_at', 'websites.timezone') }} as upgraded_date,
        {{ business_date('renamed.expires_at', 'websites.timezone') }} as expires_date
    from renamed
    left join parents on renamed.user_id = parents.parent_id
    left join websites on parents.website_id = websites.website_id

)

select * from final
