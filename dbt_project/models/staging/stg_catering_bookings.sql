with

source as (

    select * from {{ source('raw', 'catering_booking') }}

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
        cast(id as bigint) as catering_booking_id,
        cast(website_id as bigint) as website_id,
        cast(user_id as bigint) as user_id,

        ----------  text
        cast(status as varchar) as status,

        ----------  numbers
        cast(guests as integer) as guests,
        cast(amount as decimal(12, 2)) as amount,

        ----------  dates
        cast(event_date as date) as event_date,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.catering_booking_id,
        renamed.website_id,
        renamed.user_id,

        ----------  text
        renamed.status,

        ----------  numbers
        renamed.guests,
        renamed.amount,

        ----------  dates
        renamed.event_date,

        ----------  timestamps
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
