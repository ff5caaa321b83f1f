{#
    Orders with what held at the moment they were placed: the customer's VIP tier (from
    the upgrade history, not the current tier) and whether a subscription was active;
    plus whether the order counts (status <> 'cancelled') and the customer's first
    counted order date, which tells new from returning customers.
#}
{#-
    Incremental by customer (macros/incremental/slices.sql): a run rebuilds the orders of
    the customers whose orders, VIP upgrades or current VIP tier (its expiry ends their
    last period), subscriptions or user row changed (before or after the change), since
    the first counted date and the tiers are per customer.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['user_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(
    mapped=['orders_order', 'vip_vipupgrade', 'vip_viptier', 'subscriptions_subscription', 'accounts_user']) -%}
{%- set affected -%}
    {{ raw_changed(window, 'orders_order', {'user_id': dbt.type_bigint()}) }}
    union
    {{ raw_changed(window, 'vip_vipupgrade', {'user_id': dbt.type_bigint()}) }}
    union
    {{ raw_changed(window, 'vip_viptier', {'user_id': dbt.type_bigint()}) }}
    union
    {{ raw_changed(window, 'subscriptions_subscription', {'user_id': dbt.type_bigint()}) }}
    union
    select row_id as user_id from ({{ raw_changes(window, 'accounts_user') }}) as users_changed
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

orders as (
    select changed.* from {{ ref('int_orders_dated') }} as changed
    where {{ slices_filter(window, {'user_id': 'changed.user_id'}) }}
),
vip_periods as (
    select changed.* from {{ ref('int_vip_upgrades_periodized') }} as changed
    where {{ slices_filter(window, {'user_id': 'changed.user_id'}) }}
),
subscription_periods as (
    select changed.* from {{ ref('int_subscriptions_periodized') }} as changed
    where {{ slices_filter(window, {'user_id': 'changed.user_id'}) }}
),
method_groups as (select * from {{ ref('payment_method_groups') }}),

vip_at_order as (

    select
        orders.order_id,
        max(vip_periods.tier) as vip_tier_at_order
    from orders
    inner join vip_periods
        on orders.user_id = vip_periods.user_id
        and orders.created_at >= vip_periods.valid_from
        and (vip_periods.valid_to is null or orders.created_at < vip_periods.valid_to)
    group by orders.order_id

),

subscription_at_order as (

    select distinct orders.order_id
    from orders
    inner join subscription_periods
        on orders.user_id = subscription_periods.user_id
        and orders.created_at >= subscription_periods.active_from
        and (subscription_periods.active_to is null or orders.created_at < subscription_periods.active_to)

),

flagged as (

    select
        orders.*,
        orders.status <> 'cancelled' as is_counted,
        vip_at_order.vip_tier_at_order,
        vip_at_order.order_id is not null as is_vip_at_order,
        subscription_at_order.order_id is not null as has_subscription_at_order,
        method_groups.method_group as payment_method_group
    from orders
    left join vip_at_order on orders.order_id = vip_at_order.order_id
    left join subscription_at_order on orders.order_id = subscription_at_order.order_id
    left join method_groups on orders.payment_method = method_groups.payment_method

),

{#- An aggregate joined back, not a window over user_id: a hash aggregate instead of
    sorting every order by customer (same values, null user_id included). #}
first_counted as (

    select
        flagged.user_id,
        min(flagged.created_date) as customer_first_counted_date
    from flagged
    where flagged.is_counted
    group by flagged.user_id

),

final as (

    select
        flagged.*,
        first_counted.customer_first_counted_date
    from flagged
    left join first_counted on flagged.user_id is not distinct from first_counted.user_id

)

select * from final
