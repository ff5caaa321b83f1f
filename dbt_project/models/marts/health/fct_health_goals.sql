{#-
    Health profiles per website and dietary goal (METRICS.md, Staff, kitchen and health
    profiles): customers with a profile of that goal filled in before as_of's end, those
    with a delivered order placed up to as_of, their delivered orders and revenue. Counts
    by goal only: no allergy, calorie target or activity level of anyone leaves this model.
    A plain table: one row per website and goal, whatever the history; the pipeline skips
    it when its inputs did not change.
-#}

with

goal_customers as (select * from {{ ref('int_health_goal_customers') }}),
orders as (select * from {{ ref('int_orders_to_date') }}),

customer_orders as (

    select
        user_id,
        count(*) as delivered_orders,
        sum(total) as revenue
    from orders
    where status = 'delivered'
    group by user_id

),

goals as (

    select
        goal_customers.website_id,
        goal_customers.dietary_goal,
        count(*) as customers,
        count(customer_orders.user_id) as customers_with_delivered_order,
        sum(coalesce(customer_orders.delivered_orders, 0)) as delivered_orders,
        sum(coalesce(customer_orders.revenue, 0)) as revenue
    from goal_customers
    left join customer_orders on goal_customers.user_id = customer_orders.user_id
    group by goal_customers.website_id, goal_customers.dietary_goal

),

final as (

    select
        website_id,
        dietary_goal,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(customers_with_delivered_order as {{ dbt.type_bigint() }}) as customers_with_delivered_order,
        cast(delivered_orders as {{ dbt.type_bigint() }}) as delivered_orders,
        cast(revenue as {{ type_decimal(18, 2) }}) as revenue
    from goals

)

select * from final
