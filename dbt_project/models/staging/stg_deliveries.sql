with

source as (

    select * from {{ source('raw', 'delivery_delivery') }}

),

{#- delivery_delivery has no website_id: its website (and so the time zone of its business
    dates) is looked up one hop away, on orders_order. A row whose parent is missing keeps NULLs
    there, and the not_null test on website_id reports it. -#}
parents as (

    select
        cast(id as bigint) as parent_id,
        cast(website_id as bigint) as website_id
    from {{ source('raw', 'orders_order') }}

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
        cast(id as bigint) as delivery_id,
        cast(order_id as bigint) as order_id,

        ----------  text
        cast(rider_name as varchar) as rider_name,
        cast(status as varchar) as status,

        ----------  numbers
        cast(distance_km as decimal(6, 2)) as distance_km,

        ----------  timestamps
        cast(assigned_at as timestamptz) as assigned_at,
        cast(picked_up_at as timestamptz) as picked_up_at,
        cast(delivered_at as timestamptz) as delivered_at,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.delivery_id,
        parents.website_id,
        renamed.order_id,

        ----------  text
        renamed.rider_name,
        renamed.status,

        ----------  numbers
        renamed.distance_km,

        ----------  timestamps
        renamed.assigned_at,
        renamed.picked_up_at,
        renamed.delivered_at,
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.assigned_at', 'websites.timezone') }} as assigned_date,
        {{ business_date('renamed.delivered_at', 'websites.timezone') }} as delivered_date
    from renamed
    left join parents on renamed.order_id = parents.parent_id
    left join websites on parents.website_id = websites.website_id

)

select * from final
