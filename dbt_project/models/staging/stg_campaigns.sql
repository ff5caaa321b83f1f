with

source as (

    select * from {{ source('raw', 'campaigns_campaign') }}

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
        cast(id as bigint) as campaign_id,
        cast(website_id as bigint) as website_id,

        ----------  text
        cast(name as varchar) as campaign_name,
        cast(description as varchar) as description,
        cast(discount_type as varchar) as discount_type,
        cast(status as varchar) as status,
        cast(target_audience as varchar) as target_audience,

        ----------  numbers
        cast(discount_value as decimal(10, 2)) as discount_value,
        cast(budget as decimal(12, 2)) as budget,

        ----------  timestamps
        cast(start_date as timestamptz) as starts_at,
        cast(end_date as timestamptz) as ends_at,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.campaign_id,
        renamed.website_id,

        ----------  text
        renamed.campaign_name,
        renamed.description,
        renamed.discount_type,
        renamed.status,
        renamed.target_audience,

        ----------  numbers
        renamed.discount_value,
        renamed.budget,

        ----------  timestamps
        renamed.starts_at,
        renamed.ends_at,
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.starts_at', 'websites.timezone') }} as start_date,
        {{ business_date('renamed.ends_at', 'websites.timezone') }} as end_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
