with

source as (

    select * from {{ source('raw', 'nutrition_consultation') }}

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
        cast(id as bigint) as consultation_id,
        cast(website_id as bigint) as website_id,
        cast(user_id as bigint) as user_id,

        ----------  text
        cast(nutritionist_name as varchar) as nutritionist_name,
        cast(status as varchar) as status,

        ----------  numbers
        cast(fee as decimal(12, 2)) as fee,

        ----------  timestamps
        cast(scheduled_at as timestamptz) as scheduled_at,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.consultation_id,
        renamed.website_id,
        renamed.user_id,

        ----------  text
        renamed.nutritionist_name,
        renamed.status,

        ----------  numbers
        renamed.fee,

        ----------  timestamps
        renamed.scheduled_at,
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.scheduled_at', 'websites.timezone') }} as scheduled_date,
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
