{#-
    The top 10 meals by quantity per website and dietary goal (METRICS.md, health
    profiles): items of the delivered orders placed up to as_of by customers with a profile
    of that goal filled in before as_of's end; ties broken by the lower meal_id. Counts by
    goal only: no person's health detail leaves this model.
    A plain table: at most 10 rows per website and goal, whatever the history.
-#}

with

goal_customers as (select * from {{ ref('int_health_goal_customers') }}),
orders as (select * from {{ ref('int_orders_to_date') }}),
items as (select * from {{ ref('stg_order_items') }}),
meals as (select * from {{ ref('stg_meals') }}),

goal_meals as (

    select
        goal_customers.website_id,
        goal_customers.dietary_goal,
        items.meal_id,
        sum(items.quantity) as quantity,
        count(distinct items.order_id) as orders
    from goal_customers
    inner join orders on goal_customers.user_id = orders.user_id
    inner join items on orders.order_id = items.order_id
    where orders.status = 'delivered'
    group by goal_customers.website_id, goal_customers.dietary_goal, items.meal_id

),

ranked as (

    select
        goal_meals.*,
        row_number() over (
            partition by goal_meals.website_id, goal_meals.dietary_goal
            order by goal_meals.quantity desc, goal_meals.meal_id asc
        ) as meal_rank
    from goal_meals

),

final as (

    select
        ranked.website_id,
        ranked.dietary_goal,
        ranked.meal_id,
        meals.meal_name,
        cast(ranked.quantity as {{ dbt.type_bigint() }}) as quantity,
        cast(ranked.orders as {{ dbt.type_bigint() }}) as orders,
        cast(ranked.meal_rank as {{ dbt.type_int() }}) as meal_rank
    from ranked
    left join meals on ranked.meal_id = meals.meal_id
    where ranked.meal_rank <= 10

)

select * from final
