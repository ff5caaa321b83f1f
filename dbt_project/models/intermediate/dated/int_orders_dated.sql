{#
    Orders with the business dates they were placed, delivered and cancelled on.
    Business dates are the website's (with_business_dates).
#}
with

orders as (select * from {{ ref('stg_orders') }}),

final as (

    {{ with_business_dates('orders', ['created_at', 'delivered_at', 'cancelled_at']) }}

)

select * from final
