{#
    Every order with the moment it was first paid: the first completed_at of its order
    payments whose status is completed or refunded (a refunded payment was collected
    first, as in int_payments_netted), and that moment's business date. The compact
    per-order input of the receivables (fct_revenue_reconciliation_daily): an order is
    owed from its created date until the business date it was first paid.
#}
{#-
    Incremental by order (macros/incremental/slices.sql): a run rebuilds the orders
    int_orders_enriched removed or added (status, total, dates, website), and the orders
    of the payments that changed (their order before and after the change).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['order_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched', 'payments_payment']) -%}
{%- set affected -%}
    select order_id from ({{ delta_changed(window, 'int_orders_enriched', ['order_id']) }}) as orders_changed
    union
    select paid_orders.order_id
    from ({{ raw_changed(window, 'payments_payment', {'order_id': dbt.type_bigint()}) }}) as paid_orders
    where paid_orders.order_id is not null
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

orders as (
    select changed.* from {{ ref('int_orders_enriched') }} as changed
    where {{ slices_filter(window, {'order_id': 'changed.order_id'}) }}
),
payments as (
    select changed.* from {{ ref('int_payments_dated') }} as changed
    where {{ slices_filter(window, {'order_id': 'changed.order_id'}) }}
),

first_paid as (

    select
        order_id,
        min(completed_at) as paid_at,
        min(completed_date) as paid_date
    from payments
    where purpose = 'order'
        and status in ('completed', 'refunded')
        and completed_at is not null
    group by order_id

),

final as (

    select
        orders.order_id,
        orders.website_id,
        orders.user_id,
        orders.status,
        orders.is_counted,
        orders.payment_method,
        orders.total,
        orders.created_at,
        orders.created_date,
        first_paid.paid_at,
        first_paid.paid_date
    from orders
    left join first_paid on orders.order_id = first_paid.order_id

)

select * from final
