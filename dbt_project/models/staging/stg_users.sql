with

source as (

    select * from {{ source('raw', 'accounts_user') }}

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
        cast(id as bigint) as user_id,
        cast(website_id as bigint) as website_id,
        cast(referred_by_id as bigint) as referred_by_user_id,

        ----------  text
        cast(email as varchar) as email,
        cast(phone as varchar) as phone,
        cast(first_name as varchar) as first_name,
        cast(last_name as varchar) as last_name,

        ----------  booleans
        cast(is_active as boolean) as is_active,

        ----------  timestamps
        cast(date_joined as timestamptz) as joined_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.user_id,
        renamed.website_id,
        renamed.referred_by_user_id,

        ----------  text
        renamed.email,
        renamed.phone,
        renamed.first_name,
        renamed.last_name,

        ----------  booleans
        renamed.is_active,

        ----------  timestamps
        renamed.joined_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.joined_at', 'websites.timezone') }} as joined_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
