with

source as (

    select * from {{ source('raw', 'campaigns_campaignrecipient') }}

),

{#- campaigns_campaignrecipient has no website_id: its website (and so the time zone of its business
    dates) is looked up one hop away, on campaigns_campaign. A row whose parent is missing keeps NULLs
    there, and the not_null test on website_id reports it. -#}
parents as (

    select
        cast(id as bigint) as parent_id,
        cast(website_id as bigint) as website_id
    from {{ source('raw', 'campaigns_campaign') }}

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
        cast(id as bigint) as campaign_recipient_id,
        cast(campaign_id as bigint) as campaign_id,
        cast(user_id as bigint) as user_id,

        ----------  text
        cast(variant as varchar) as variant,

        ----------  timestamps
        cast(sent_at as timestamptz) as sent_at,
        cast(created_at as timestamptz) as created_at
    from source

),

final as (

    select
        ----------  ids
        renamed.campaign_recipient_id,
        parents.website_id,
        renamed.campaign_id,
        renamed.user_id,

        ----------  text
        renamed.variant,

        ----------  timestamps
        renamed.sent_at,
        renamed.created_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.sent_at', 'websites.timezone') }} as sent_date
    from renamed
    left join parents on renamed.campaign_id = parents.parent_id
    left join websites on parents.website_id = websites.website_id

)

select * from final
