with

source as (

    select * from {{ source('raw', 'accounts_website') }}

),

renamed as (

    select
        ----------  ids
        cast(id as bigint) as website_id,

        ----------  text
        cast(name as varchar) as website_name,
        cast(domain as varchar) as domain,
        cast(currency as varchar) as currency,
        cast(timezone as varchar) as timezone,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.website_id,

        ----------  text
        renamed.website_name,
        renamed.domain,
        renamed.currency,
        renamed.timezone,

        ----------  timestamps
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'renamed.timezone') }} as created_date
    from renamed

)

select * from final
