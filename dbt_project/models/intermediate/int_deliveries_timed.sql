{#
    Deliveries of orders placed up to as_of, timed: minutes from the order's created_at
    to the delivery's delivered_at (delivered deliveries only), on time when <= 45
    minutes (METRICS.md, Operations).
#}
with

deliveries as (select * from {{ ref('stg_deliveries') }}),
orders as (select * from {{ ref('int_orders_to_date') }}),

timed as (

    select
        deliveries.delivery_id,
        orders.website_id,
        deliveries.order_id,
        orders.created_date as order_date,
        deliveries.status,
        deliveries.distance_km,
        orders.created_at as order_created_at,
        deliveries.delivered_at,
        case
            when deliveries.status = 'delivered' and deliveries.delivered_at is not null
                then {{ dbt.datediff('orders.created_at', 'deliveries.delivered_at', 'microsecond') }}
        end as delivery_microseconds
    from deliveries
    inner join orders on deliveries.order_id = orders.order_id

),

final as (

    select
        delivery_id,
        website_id,
        order_id,
        order_date,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(distance_km as {{ type_decimal(6, 2) }}) as distance_km,
        order_created_at,
        delivered_at,
        delivery_microseconds,
        cast({{ decimal_div(
            'delivery_microseconds',
            60000000,
            2,
            integers=true
        ) }} as {{ type_decimal(12, 2) }}) as delivery_minutes,
        delivery_microseconds is not null as is_delivered,
        coalesce(delivery_microseconds <= cast(2700000000 as {{ dbt.type_bigint() }}), false) as is_on_time,
        status = 'failed' as is_failed
    from timed

)

select * from final
