with

source as (

    select * from {{ source('raw', 'vip_vipupgrade') }}

),

{#- vip_vipupgrade has no website_id: its website (and so the time zone of its business
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
        cast(id as bigint) as vip_upgrade_id,
        cast(user_id as bigint) as user_id,

        ----------  text
        cast(from_tier as varchar) as from_tier,
        cast(to_tier as varchar) as to_tier,

        ----------  numbers
        cast(price as decimal(12, 2)) as price,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at
    from source

),

final as (

    select
        ----------  ids
        renamed.vip_upgrade_id,
        parents.website_id,
        renamed.user_id,

        ----------  text
        renamed.from_tier,
        renamed.to_tier,

        ----------  numbers
        renamed.price,

        ----------  timestamps
        renamed.created_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join parents on renamed.user_id = parents.parent_id
    left join websites on parents.website_id = websites.website_id

)

select * from final
