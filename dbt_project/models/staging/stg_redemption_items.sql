with

source as (

    select * from {{ source('raw', 'loyalty_redemptionitem') }}

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
        cast(id as bigint) as redemption_item_id,
        cast(website_id as bigint) as website_id,

        ----------  text
        cast(name as varchar) as item_name,
        cast(category as varchar) as category,
        cast(item_type as varchar) as item_type,

        ----------  numbers
        cast(points_required as integer) as points_required,
        cast(value_amount as decimal(12, 2)) as value_amount,

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
        renamed.redemption_item_id,
        renamed.website_id,

        ----------  text
        renamed.item_name,
        renamed.category,
        renamed.item_type,

        ----------  numbers
        renamed.points_required,
        renamed.value_amount,

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
