with

source as (

    select * from {{ source('raw', 'menu_meal') }}

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
        cast(id as bigint) as meal_id,
        cast(website_id as bigint) as website_id,

        ----------  text
        cast(name as varchar) as meal_name,
        cast(category as varchar) as category,

        ----------  numbers
        cast(price as decimal(12, 2)) as price,

        ----------  booleans
        cast(is_active as boolean) as is_active,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.meal_id,
        renamed.website_id,

        ----------  text
        renamed.meal_name,
        renamed.category,

        ----------  numbers
        renamed.price,

        ----------  booleans
        renamed.is_active,

        ----------  timestamps
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
