{#- Distinct customers of any window are a count of distinct user_id over its days:
    unlike unique_customers of fct_daily_snapshot, they cannot be summed from days. -#}
with

orders as (select * from {{ ref('int_orders_to_date') }}),

final as (

    select
        website_id,
        created_date as business_date,
        user_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as order_count,
        cast(sum(total) as {{ type_decimal(18, 2) }}) as gross_revenue
    from orders
    where is_counted
    group by website_id, created_date, user_id

)

select * from final
