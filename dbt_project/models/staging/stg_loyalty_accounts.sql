with

source as (

    select * from {{ source('raw', 'loyalty_loyaltyaccount') }}

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
        cast(id as bigint) as loyalty_account_id,
        cast(website_id as bigint) as website_id,
        cast(user_id as bigint) as user_id,

        ----------  text
        cast(tier as varchar) as tier,

        ----------  numbers
        cast(points_balance as integer) as points_balance,
        cast(lifetime_points as integer) as lifetime_points,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.loyalty_account_id,
        renamed.website_id,
        renamed.user_id,

        ----------  text
        renamed.tier,

        ----------  numbers
        renamed.points_balance,
        renamed.lifetime_points,

        ----------  timestamps
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
