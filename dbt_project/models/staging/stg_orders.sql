with

source as (

    select * from {{ source('raw', 'orders_order') }}

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
        cast(id as bigint) as order_id,
        cast(website_id as bigint) as website_id,
        cast(user_id as bigint) as user_id,
        cast(campaign_id as bigint) as campaign_id,

        ----------  text
        cast(status as varchar) as status,
        cast(channel as varchar) as channel,
        cast(discount_type as varchar) as discount_type,
        cast(payment_method as varchar) as payment_method,
        cast(payment_status as varchar) as payment_status,

        ----------  numbers
        cast(subtotal as decimal(12, 2)) as subtotal,
        cast(discount_amount as decimal(12, 2)) as discount_amount,
        cast(delivery_fee as decimal(12, 2)) as delivery_fee,
        cast(total as decimal(12, 2)) as total,
        cast(loyalty_points_used as integer) as loyalty_points_used,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at,
        cast(delivered_at as timestamptz) as delivered_at,
        cast(cancelled_at as timestamptz) as cancelled_at
    from source

),

final as (

    select
        ----------  ids
        renamed.order_id,
        renamed.website_id,
        renamed.user_id,
        renamed.campaign_id,

        ----------  text
        renamed.status,
        renamed.channel,
        renamed.discount_type,
        renamed.payment_method,
        renamed.payment_status,

        ----------  numbers
        renamed.subtotal,
        renamed.discount_amount,
        renamed.delivery_fee,
        renamed.total,
        renamed.loyalty_points_used,

        ----------  timestamps
        renamed.created_at,
        renamed.updated_at,
        renamed.delivered_at,
        renamed.cancelled_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date,
        {{ business_date('renamed.delivered_at', 'websites.timezone') }} as delivered_date,
        {{ business_date('renamed.cancelled_at', 'websites.timezone') }} as cancelled_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
