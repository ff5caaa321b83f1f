with

source as (

    select * from {{ source('raw', 'subscriptions_subscription') }}

),

{#- subscriptions_subscription has no website_id: its website (and so the time zone of its business
    dates) is looked up one hop away, on accounts_user. A row whose parent is missing keeps NULLs
    there, and the not_null test on website_id reports it. -#}
parents as (

    select
        cast(id as bigint) as parent_id,
        cast(website_id as bigint) as website_id
    from {{ source('raw', 'accounts_user') }}

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
        cast(id as bigint) as subscription_id,
        cast(user_id as bigint) as user_id,
        cast(plan_id as bigint) as plan_id,

        ----------  text
        cast(status as varchar) as status,

        ----------  timestamps
        cast(started_at as timestamptz) as started_at,
        cast(current_period_end as timestamptz) as current_period_end_at,
        cast(cancelled_at as timestamptz) as cancelled_at,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.subscription_id,
        parents.website_id,
        renamed.user_id,
        renamed.plan_id,

        ----------  text
        renamed.status,

        ----------  timestamps
        renamed.started_at,
        renamed.current_period_end_at,
        renamed.cancelled_at,
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.started_at', 'websites.timezone') }} as started_date,
        {{ business_date('renamed.cancelled_at', 'websites.timezone') }} as cancelled_date,
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join parents on renamed.user_id = parents.parent_id
    left join websites on parents.website_id = websites.website_id

)

select * from final
