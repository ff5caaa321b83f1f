{#
    Money actually moved, as signed events: a completed payment adds its amount on its
    completed_at business date, a refund subtracts its amount on its own created_at
    business date (METRICS.md, collected revenue). A payment "completed" when it has
    completed_at and status completed or refunded: a refunded payment was collected
    first, and its refund rows take the money back. Each event carries the revenue
    channel of its payment (seed revenue_channels).
#}
{#-
    Incremental by payment (macros/incremental/slices.sql): a run rebuilds the movements of
    the payments that changed, whose refunds changed (the refund's payment before and after
    the change), or whose order changed (its channel).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['payment_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['payments_payment', 'payments_refund', 'orders_order']) -%}
{%- set affected -%}
    select row_id as payment_id from ({{ raw_changes(window, 'payments_payment') }}) as payments_changed
    union
    {{ raw_changed(window, 'payments_refund', {'payment_id': dbt.type_bigint()}) }}
    union
    select payments_of_orders.id as payment_id
    from {{ raw_relation('payments_payment') }} as payments_of_orders
    where payments_of_orders.order_id in (
        select row_id from ({{ raw_changes(window, 'orders_order') }}) as orders_changed
    )
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

payments as (
    select changed.* from {{ ref('int_payments_dated') }} as changed
    where {{ slices_filter(window, {'payment_id': 'changed.payment_id'}) }}
),
refunds as (
    select changed.* from {{ ref('int_refunds_dated') }} as changed
    where {{ slices_filter(window, {'payment_id': 'changed.payment_id'}) }}
),
orders as (select * from {{ ref('stg_orders') }}),
channels as (select * from {{ ref('revenue_channels') }}),

payment_channels as (

    select
        payments.*,
        channels.channel
    from payments
    left join orders on payments.order_id = orders.order_id
    {#- An order payment whose order is gone counts as direct (the default channel). #}
    left join channels
        on (payments.purpose = 'order' and channels.order_channel = coalesce(orders.channel, 'direct'))
        or (payments.purpose <> 'order' and payments.purpose = channels.payment_purpose)

),

collected as (

    select
        'payment' as movement_type,
        payment_id as movement_id,
        payment_id,
        website_id,
        user_id,
        purpose,
        channel,
        payment_method,
        completed_at as moved_at,
        completed_date as business_date,
        amount,
        1 as payment_count
    from payment_channels
    where completed_at is not null and status in ('completed', 'refunded')

),

refunded as (

    select
        'refund' as movement_type,
        refunds.refund_id as movement_id,
        refunds.payment_id,
        refunds.website_id,
        refunds.user_id,
        payment_channels.purpose,
        payment_channels.channel,
        payment_channels.payment_method,
        refunds.created_at as moved_at,
        refunds.created_date as business_date,
        -refunds.amount as amount,
        0 as payment_count
    from refunds
    left join payment_channels on refunds.payment_id = payment_channels.payment_id

),

final as (

    select * from collected
    union all
    select * from refunded

)

select * from final
