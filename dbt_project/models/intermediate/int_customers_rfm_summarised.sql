{#
    The BG/NBD and Gamma-Gamma inputs of every customer with at least one delivered order
    placed up to their website's as_of (METRICS.md, Customer value, predicted), in whole
    business days (the website's time zone): frequency = distinct days with a delivered
    order after the first, recency_days = first to last of those days, t_days = first day
    to as_of; repeat_total = Σ total of the delivered orders of the repeat days, so the
    mean value of a repeat day is repeat_total / frequency (the orders of one day are one
    purchase, as the days are). A customer is counted on the website of their orders.
#}
{#-
    A table rebuilt whole: t_days moves with as_of for every customer, and the models are
    fitted on every customer of a website at once; one grouping of the delivered orders.
-#}
{{ config(materialized='table') }}

with

orders as (select * from {{ ref('int_orders_to_date') }}),

delivered_days as (

    select
        website_id,
        user_id,
        created_date as order_date,
        max(as_of_date) as as_of_date,
        count(*) as order_count,
        sum(total) as day_total
    from orders
    where status = 'delivered'
    group by website_id, user_id, created_date

),

marked as (

    select
        delivered_days.*,
        min(delivered_days.order_date) over (
            partition by delivered_days.website_id, delivered_days.user_id
        ) as first_order_date
    from delivered_days

),

summarised as (

    select
        website_id,
        user_id,
        max(as_of_date) as as_of_date,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        sum(order_count) as delivered_orders,
        count(*) - 1 as frequency,
        coalesce(sum(case when order_date > first_order_date then day_total end), 0) as repeat_total
    from marked
    group by website_id, user_id

),

final as (

    select
        website_id,
        user_id,
        as_of_date,
        first_order_date,
        last_order_date,
        cast(delivered_orders as {{ dbt.type_bigint() }}) as delivered_orders,
        cast(frequency as {{ dbt.type_bigint() }}) as frequency,
        cast({{ dbt.datediff('first_order_date', 'last_order_date', 'day') }} as {{ dbt.type_bigint() }}) as recency_days,  -- noqa: LT05
        cast({{ dbt.datediff('first_order_date', 'as_of_date', 'day') }} as {{ dbt.type_bigint() }}) as t_days,  -- noqa: LT05
        cast(repeat_total as {{ type_decimal(18, 2) }}) as repeat_total
    from summarised

)

select * from final
