{#
    Per-customer figures as of their website's as_of date (METRICS.md, Customers): the
    delivered orders placed up to as_of (their current status), the money the customer
    paid minus refunds up to as_of, and the churn, lifecycle and LTV rules on top.
#}
with

users as (select * from {{ ref('int_users_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
orders as (select * from {{ ref('int_orders_to_date') }}),
money as (select * from {{ ref('int_payments_netted') }}),
segments as (select * from {{ ref('ltv_segments') }}),

delivered_totals as (

    select
        user_id,
        count(*) as total_orders,
        sum(total) as total_spent,
        min(created_at) as first_order_at,
        max(created_at) as last_order_at,
        min(created_date) as first_order_date,
        max(created_date) as last_order_date
    from orders
    where status = 'delivered'
    group by user_id

),

paid_totals as (

    select
        money.user_id,
        sum(money.amount) as lifetime_value
    from money
    inner join websites on money.website_id = websites.website_id
    where money.business_date <= websites.as_of_date
    group by money.user_id

),

measured as (

    select
        users.user_id,
        users.website_id,
        websites.as_of_date,
        coalesce(delivered_totals.total_orders, 0) as total_orders,
        coalesce(delivered_totals.total_spent, 0) as total_spent,
        delivered_totals.first_order_at,
        delivered_totals.last_order_at,
        delivered_totals.first_order_date,
        delivered_totals.last_order_date,
        coalesce(paid_totals.lifetime_value, 0) as lifetime_value,
        {{ dbt.datediff('delivered_totals.last_order_date', 'websites.as_of_date', 'day') }} as days_since_last_order,  -- noqa: LT05
        {{ dbt.datediff('delivered_totals.first_order_date', 'websites.as_of_date', 'day') }} as days_since_first_order  -- noqa: LT05
    from users
    inner join websites on users.website_id = websites.website_id
    left join delivered_totals on users.user_id = delivered_totals.user_id
    left join paid_totals on users.user_id = paid_totals.user_id
    where users.joined_date <= websites.as_of_date

),

final as (

    select
        measured.*,
        coalesce(measured.days_since_last_order > {{ var('churn_days') }}, false) as churn_risk,
        case
            when measured.total_orders = 0 then 'prospect'
            when measured.days_since_last_order > {{ var('churn_days') }} then 'at_risk'
            when measured.days_since_first_order <= {{ var('new_customer_days') }} then 'new'
            else 'active'
        end as lifecycle_stage,
        segments.ltv_segment
    from measured
    left join segments
        on (segments.lower_bound is null or measured.lifetime_value >= segments.lower_bound)
        and (segments.upper_bound is null or measured.lifetime_value < segments.upper_bound)

)

select * from final
