{#
    Per-customer figures as of their website's as_of date (METRICS.md, Customers): the
    delivered orders placed up to as_of (their current status), the money the customer
    paid minus refunds up to as_of, and the churn, lifecycle and LTV rules on top.
#}
{#-
    A table rebuilt whole at every run, cheaply: the sums over each customer's history are
    int_customers_tallied's (incremental by customer); what moves with as_of alone (the
    customers who joined by then, days since, churn, lifecycle) is computed here.
    LTV segments are per currency (METRICS.md, Currency): the seed's rows of the website's
    currency, or its '*' rows for a currency with none of its own.
-#}
with

customers as (select * from {{ ref('int_customers_tallied') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
website_currencies as (select * from {{ ref('stg_websites') }}),
segments as (select * from {{ ref('ltv_segments') }}),

{#- The currencies the seed has rows of. -#}
segment_currencies as (

    select distinct currency
    from segments

),

{#- The segment rows each website uses: its currency's, else the default ('*'). -#}
website_segments as (

    select
        website_currencies.website_id,
        segments.ltv_segment,
        segments.lower_bound,
        segments.upper_bound,
        segments.sort_order
    from website_currencies
    left join segment_currencies on website_currencies.currency = segment_currencies.currency
    inner join segments on segments.currency = coalesce(segment_currencies.currency, '*')

),

measured as (

    select
        customers.user_id,
        customers.website_id,
        websites.as_of_date,
        coalesce(customers.total_orders, 0) as total_orders,
        coalesce(customers.total_spent, 0) as total_spent,
        customers.first_order_at,
        customers.last_order_at,
        customers.first_order_date,
        customers.last_order_date,
        coalesce(customers.lifetime_value, 0) as lifetime_value,
        {{ dbt.datediff('customers.last_order_date', 'websites.as_of_date', 'day') }} as days_since_last_order,  -- noqa: LT05
        {{ dbt.datediff('customers.first_order_date', 'websites.as_of_date', 'day') }} as days_since_first_order  -- noqa: LT05
    from customers
    inner join websites on customers.website_id = websites.website_id
    where customers.joined_date <= websites.as_of_date

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
        website_segments.ltv_segment,
        website_segments.sort_order as ltv_segment_order
    from measured
    left join website_segments
        on measured.website_id = website_segments.website_id
        and (website_segments.lower_bound is null or measured.lifetime_value >= website_segments.lower_bound)
        and (website_segments.upper_bound is null or measured.lifetime_value < website_segments.upper_bound)

)

select * from final
