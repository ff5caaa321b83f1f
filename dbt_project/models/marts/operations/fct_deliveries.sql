with

deliveries as (select * from {{ ref('int_deliveries_timed') }}),

final as (

    select
        delivery_id,
        website_id,
        order_id,
        order_date,
        status,
        distance_km,
        order_created_at,
        delivered_at,
        delivery_minutes,
        is_delivered,
        is_on_time,
        is_failed
    from deliveries

)

select * from final
