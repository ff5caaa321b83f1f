{#
    Subscriptions with their subscriber's website and the business dates they started,
    were cancelled and created on. subscriptions_subscription has no website_id: it is
    its subscriber's, and so is the time zone of its business dates. A row whose
    subscriber is missing keeps NULLs there (the not_null test on website_id reports
    it).
#}
with

subscriptions as (select * from {{ ref('stg_subscriptions') }}),
users as (select * from {{ ref('stg_users') }}),

located as (

    select
        subscriptions.*,
        users.website_id
    from subscriptions
    left join users on subscriptions.user_id = users.user_id

),

final as (

    {{ with_business_dates('located', ['started_at', 'cancelled_at', 'created_at']) }}

)

select * from final
