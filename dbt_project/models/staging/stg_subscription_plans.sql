with

source as (

    select * from {{ source('raw', 'subscriptions_plan') }}

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
        cast(id as bigint) as plan_id,
        cast(website_id as bigint) as website_id,

        ----------  text
        cast(name as varchar) as plan_name,
        cast(interval as varchar) as billing_interval,

        ----------  numbers
        cast(price as decimal(12, 2)) as price,
        cast(meals_per_week as integer) as meals_per_week,

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
        renamed.plan_id,
        renamed.website_id,

        ----------  text
        renamed.plan_name,
        renamed.billing_interval,

        ----------  numbers
        renamed.price,
        renamed.meals_per_week,

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
