with

source as (

    select * from {{ source('raw', 'payments_refund') }}

),

{#- payments_refund has no website_id: its website (and so the time zone of its business
    dates) is looked up one hop away, on payments_payment. A row whose parent is missing keeps NULLs
    there, and the not_null test on website_id reports it. -#}
parents as (

    select
        cast(id as bigint) as parent_id,
        cast(website_id as bigint) as website_id,
        cast(user_id as bigint) as user_id
    from {{ source('raw', 'payments_payment') }}

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
        cast(id as bigint) as refund_id,
        cast(payment_id as bigint) as payment_id,

        ----------  text
        cast(reason as varchar) as reason,

        ----------  numbers
        cast(amount as decimal(12, 2)) as amount,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at
    from source

),

final as (

    select
        ----------  ids
        renamed.refund_id,
        parents.website_id,
        parents.user_id,
        renamed.payment_id,

        ----------  text
        renamed.reason,

        ----------  numbers
        renamed.amount,

        ----------  timestamps
        renamed.created_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join parents on renamed.payment_id = parents.parent_id
    left join websites on parents.website_id = websites.website_id

)

select * from final
