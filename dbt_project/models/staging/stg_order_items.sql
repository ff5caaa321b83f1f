with

source as (

    select * from {{ source('raw', 'orders_orderitem') }}

),

{#- orders_orderitem has no website_id: its website (and so the time zone of its business
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
        cast(id as bigint) as order_item_id,
        cast(order_id as bigint) as order_id,
        cast(meal_id as bigint) as meal_id,

        ----------  numbers
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(12, 2)) as unit_price,
        cast(line_total as decimal(12, 2)) as line_total,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.order_item_id,
        parents.website_id,
        renamed.order_id,
        renamed.meal_id,

        ----------  numbers
        renamed.quantity,
        renamed.unit_price,
        renamed.line_total,

        ----------  timestamps
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join parents on renamed.order_id = parents.parent_id
    left join websites on parents.website_id = websites.website_id

)

select * from final
