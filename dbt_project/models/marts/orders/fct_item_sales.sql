{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days its orders and their items changed on (before and after the change), the days
    a changed meal sold on, and the days as_of moved.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched', 'orders_order', 'orders_orderitem', 'menu_meal']) -%}
{%- set affected -%}
    select website_id, created_date as business_date
    from ({{ delta_changed(window, 'int_orders_enriched', ['website_id', 'created_date']) }}) as orders_changed
    union
    {# An item's order's day, before and after the item changed; a meal's days (its name
        and category are on every row it sold in). #}
    select orders_of_items.website_id, orders_of_items.created_date as business_date
    from {{ upstream_relation('int_orders_enriched') }} as orders_of_items
    where orders_of_items.order_id in (
        select order_id from (
            {{ raw_changed(window, 'orders_orderitem', {'order_id': dbt.type_bigint()}) }}
        ) as items_changed
    )
    or orders_of_items.order_id in (
        select sold.order_id from {{ raw_relation('orders_orderitem') }} as sold
        where sold.meal_id in (select row_id from ({{ raw_changes(window, 'menu_meal') }}) as meals_changed)
    )
    union
    {{ as_of_changed(this, upstream_relation('int_orders_to_date'), 'created_date', upstream_relation('int_websites_as_of')) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

orders as (
    select changed.* from {{ ref('int_orders_to_date') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.created_date'}) }}
),
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
