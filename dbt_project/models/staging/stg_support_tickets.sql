with

source as (

    select * from {{ source('raw', 'support_ticket') }}

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
        cast(id as bigint) as ticket_id,
        cast(website_id as bigint) as website_id,
        cast(user_id as bigint) as user_id,

        ----------  text
        cast(category as varchar) as category,
        cast(priority as varchar) as priority,
        cast(status as varchar) as status,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at,
        cast(first_response_at as timestamptz) as first_response_at,
        cast(resolved_at as timestamptz) as resolved_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.ticket_id,
        renamed.website_id,
        renamed.user_id,

        ----------  text
        renamed.category,
        renamed.priority,
        renamed.status,

        ----------  timestamps
        renamed.created_at,
        renamed.first_response_at,
        renamed.resolved_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date,
        {{ business_date('renamed.resolved_at', 'websites.timezone') }} as resolved_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
