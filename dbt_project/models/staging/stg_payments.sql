with

source as (

    select * from {{ source('raw', 'payments_payment') }}

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
        cast(id as bigint) as payment_id,
        cast(website_id as bigint) as website_id,
        cast(user_id as bigint) as user_id,
        cast(order_id as bigint) as order_id,
        cast(reference_id as bigint) as reference_id,

        ----------  text
        cast(purpose as varchar) as purpose,
        cast(method as varchar) as payment_method,
        cast(status as varchar) as status,
        cast(provider_reference as varchar) as provider_reference,

        ----------  numbers
        cast(amount as decimal(12, 2)) as amount,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at,
        cast(completed_at as timestamptz) as completed_at
    from source

),

final as (

    select
        ----------  ids
        renamed.payment_id,
        renamed.website_id,
        renamed.user_id,
        renamed.order_id,
        renamed.reference_id,

        ----------  text
        renamed.purpose,
        renamed.payment_method,
        renamed.status,
        renamed.provider_reference,

        ----------  numbers
        renamed.amount,

        ----------  timestamps
        renamed.created_at,
        renamed.updated_at,
        renamed.completed_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date,
        {{ business_date('renamed.completed_at', 'websites.timezone') }} as completed_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
