with

orders as (select * from {{ ref('int_orders_to_date') }}),
items as (select * from {{ ref('stg_order_items') }}),
meals as (select * from {{ ref('stg_meals') }}),

item_days as (

    select
        orders.website_id,
        orders.created_date as business_date,
        items.meal_id,
        count(distinct items.order_id) as order_count,
        sum(items.quantity) as quantity_sold,
        sum(items.line_total) as line_total
    from items
    inner join orders on items.order_id = orders.order_id
    where orders.is_counted
    group by orders.website_id, orders.created_date, items.meal_id

),

final as (

    select
        item_days.website_id,
        item_days.business_date,
        item_days.meal_id,
        cast(meals.meal_name as {{ dbt.type_string() }}) as meal_name,
        cast(meals.category as {{ dbt.type_string() }}) as category,
        cast(item_days.order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(item_days.quantity_sold as {{ dbt.type_bigint() }}) as quantity_sold,
        cast(item_days.line_total as {{ type_decimal(18, 2) }}) as line_total
    from item_days
    left join meals on item_days.meal_id = meals.meal_id

)

select * from final
