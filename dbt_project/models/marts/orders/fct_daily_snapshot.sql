{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days its orders and money movements changed on (before and after the change), and
    the days that joined or left the calendar (as_of moved, an earlier first order).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched', 'int_payments_netted', 'orders_order']) -%}
{%- set affected -%}
    select website_id, created_date as business_date
    from ({{ delta_changed(window, 'int_orders_enriched', ['website_id', 'created_date']) }}) as orders_changed
    union
    select website_id, business_date
    from ({{ delta_changed(window, 'int_payments_netted', ['website_id', 'business_date']) }}) as money_changed
    union
    {{ calendar_changed(ref('int_website_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

days as (
    select changed.* from {{ ref('int_website_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
orders as (
    select changed.* from {{ ref('int_orders_enriched') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.created_date'}) }}
),
money as (
    select changed.* from {{ ref('int_payments_netted') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),

counted_orders as (
    select * from orders
    where is_counted
),

order_days as (

    select
        website_id,
        created_date as business_date,
        count(*) as total_orders,
        sum(total) as gross_revenue,
        sum(discount_amount) as total_discount,
        count(distinct user_id) as unique_customers,
        sum(case when is_vip_at_order then 1 else 0 end) as vip_orders,
        sum(case when has_subscription_at_order then 1 else 0 end) as subscription_orders,
        sum(case when payment_method_group = 'cash' then 1 else 0 end) as cash_orders,
        sum(case when payment_method_group = 'mobile_money' then 1 else 0 end) as mobile_money_orders,
        sum(case when payment_method_group = 'bank_transfer' then 1 else 0 end) as bank_transfer_orders,
        count(distinct case when customer_first_counted_date = created_date then user_id end) as new_customers
    from counted_orders
    group by website_id, created_date

),

cancelled_days as (

    select
        website_id,
        created_date as business_date,
        count(*) as cancelled_orders
    from orders
    where not is_counted
    group by website_id, created_date

),

money_days as (

    select
        website_id,
        business_date,
        sum(amount) as collected_revenue,
        sum(case when movement_type = 'refund' then -amount else 0 end) as refunds
    from money
    group by website_id, business_date

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(order_days.total_orders, 0) as {{ dbt.type_bigint() }}) as total_orders,
        cast(coalesce(order_days.gross_revenue, 0) as {{ type_decimal(18, 2) }}) as gross_revenue,
        cast(coalesce(order_days.total_discount, 0) as {{ type_decimal(18, 2) }}) as total_discount,
        cast(coalesce(order_days.unique_customers, 0) as {{ dbt.type_bigint() }}) as unique_customers,
        {{ money_ratio('order_days.gross_revenue', 'order_days.total_orders') }} as average_order_value,
        cast(coalesce(order_days.vip_orders, 0) as {{ dbt.type_bigint() }}) as vip_orders,
        cast(coalesce(order_days.subscription_orders, 0) as {{ dbt.type_bigint() }}) as subscription_orders,
        cast(coalesce(order_days.cash_orders, 0) as {{ dbt.type_bigint() }}) as cash_orders,
        cast(coalesce(order_days.mobile_money_orders, 0) as {{ dbt.type_bigint() }}) as mobile_money_orders,
        cast(coalesce(order_days.bank_transfer_orders, 0) as {{ dbt.type_bigint() }}) as bank_transfer_orders,
        cast(coalesce(order_days.new_customers, 0) as {{ dbt.type_bigint() }}) as new_customers,
        cast(
            coalesce(order_days.unique_customers - order_days.new_customers, 0) as {{ dbt.type_bigint() }}
        ) as returning_customers,
        cast(coalesce(cancelled_days.cancelled_orders, 0) as {{ dbt.type_bigint() }}) as cancelled_orders,
        cast(coalesce(money_days.collected_revenue, 0) as {{ type_decimal(18, 2) }}) as collected_revenue,
        cast(coalesce(money_days.refunds, 0) as {{ type_decimal(18, 2) }}) as refunds
    from days
    left join order_days
        on days.website_id = order_days.website_id
        and days.business_date = order_days.business_date
    left join cancelled_days
        on days.website_id = cancelled_days.website_id
        and days.business_date = cancelled_days.business_date
    left join money_days
        on days.website_id = money_days.website_id
        and days.business_date = money_days.business_date

)

select * from final
