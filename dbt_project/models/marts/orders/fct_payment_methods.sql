with

orders as (select * from {{ ref('int_orders_to_date') }}),

method_days as (

    select
        website_id,
        created_date as business_date,
        payment_method,
        payment_method_group,
        count(*) as order_count,
        sum(total) as gross_revenue
    from orders
    where is_counted
    group by website_id, created_date, payment_method, payment_method_group

),

final as (

    select
        website_id,
        business_date,
        cast(payment_method as {{ dbt.type_string() }}) as payment_method,
        cast(payment_method_group as {{ dbt.type_string() }}) as payment_method_group,
        cast(order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(gross_revenue as {{ type_decimal(18, 2) }}) as gross_revenue,
        {{ pct(
            'order_count',
            'sum(order_count) over (partition by website_id, business_date)'
        ) }} as share_of_orders_pct
    from method_days

)

select * from final
