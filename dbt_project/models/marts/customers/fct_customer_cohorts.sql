with

orders as (select * from {{ ref('int_orders_to_date') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

-- A delivered order dated before its website opened (a zeroed clock's 1970) is implausible:
-- the raw check plausible_dates names it and the run does not publish; it starts no cohort
-- and counts in no month, so it does not stretch the months back to it (as the daily
-- calendars do not).
delivered_orders as (

    select
        orders.website_id,
        orders.user_id,
        cast({{ dbt.date_trunc('month', 'orders.created_date') }} as date) as order_month
    from orders
    inner join websites on orders.website_id = websites.website_id
    where
        orders.status = 'delivered'
        and orders.created_date >= coalesce(websites.opened_date, orders.created_date)

),

members as (

    select
        website_id,
        user_id,
        min(order_month) as cohort_month
    from delivered_orders
    group by website_id, user_id

),

cohorts as (

    select
        members.website_id,
        members.cohort_month,
        count(*) as cohort_size,
        {{ dbt.datediff(
            'members.cohort_month',
            dbt.date_trunc('month', 'max(websites.as_of_date)'),
            'month'
        ) }} as last_month_number
    from members
    inner join websites on members.website_id = websites.website_id
    group by members.website_id, members.cohort_month

),

cohort_months as (

    {{ offsets_up_to('cohorts', ['website_id', 'cohort_month', 'cohort_size'], 'last_month_number', 'month_number') }}

),

activity as (

    select
        members.website_id,
        members.cohort_month,
        {{ dbt.datediff('members.cohort_month', 'delivered_orders.order_month', 'month') }} as month_number,  -- noqa: LT05
        count(distinct members.user_id) as active_customers
    from members
    inner join delivered_orders on members.user_id = delivered_orders.user_id
    group by members.website_id, members.cohort_month, delivered_orders.order_month

),

final as (

    select
        cohort_months.website_id,
        cohort_months.cohort_month,
        cohort_months.month_number,
        cast(cohort_months.cohort_size as {{ dbt.type_bigint() }}) as cohort_size,
        cast(coalesce(activity.active_customers, 0) as {{ dbt.type_bigint() }}) as active_customers,
        {{ pct('coalesce(activity.active_customers, 0)', 'cohort_months.cohort_size') }} as retention_rate
    from cohort_months
    left join activity
        on cohort_months.website_id = activity.website_id
        and cohort_months.cohort_month = activity.cohort_month
        and cohort_months.month_number = activity.month_number

)

select * from final
