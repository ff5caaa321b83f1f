with

source as (

    select * from {{ source('raw', 'loyalty_loyaltytransaction') }}

),

{#- loyalty_loyaltytransaction has no website_id: its website (and so the time zone of its business
    dates) is looked up one hop away, on loyalty_loyaltyaccount. A row whose parent is missing keeps NULLs
    there, and the not_null test on website_id reports it. -#}
parents as (

    select
        cast(id as bigint) as parent_id,
        cast(website_id as bigint) as website_id,
        cast(user_id as bigint) as user_id
    from {{ source('raw', 'loyalty_loyaltyaccount') }}

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
        cast(id as bigint) as loyalty_transaction_id,
        cast(account_id as bigint) as loyalty_account_id,
        cast(order_id as bigint) as order_id,
        cast(redemption_id as bigint) as redemption_id,

        ----------  text
        cast(transaction_type as varchar) as transaction_type,
        cast(source as varchar) as source,

        ----------  numbers
        cast(points as integer) as points,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at
    from source

),

final as (

    select
        ----------  ids
        renamed.loyalty_transaction_id,
        parents.website_id,
        parents.user_id,
        renamed.loyalty_account_id,
        renamed.order_id,
        renamed.redemption_id,

        ----------  text
        renamed.transaction_type,
        renamed.source,

        ----------  numbers
        renamed.points,

        ----------  timestamps
        renamed.created_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join parents on renamed.loyalty_account_id = parents.parent_id
    left join websites on parents.website_id = websites.website_id

)

select * from final
