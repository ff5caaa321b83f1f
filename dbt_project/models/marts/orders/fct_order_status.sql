with

orders as (select * from {{ ref('int_orders_to_date') }}),

status_days as (

    select
        website_id,
        created_date as business_date,
        status,
        is_counted,
        count(*) as order_count,
        sum(total) as total_amount
    from orders
    group by website_id, created_date, status, is_counted

),

final as (

    select
        website_id,
        business_date,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(is_counted as {{ dbt.type_boolean() }}) as is_counted,
        cast(order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(total_amount as {{ type_decimal(18, 2) }}) as total_amount,
        {{ pct(
            'order_count',
            'sum(order_count) over (partition by website_id, business_date)'
        ) }} as share_of_orders_pct
    from status_days

)

select * from final
