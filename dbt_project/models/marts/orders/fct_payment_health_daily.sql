{#-
    Incremental by website and business day (macros/incremental/slices.sql); payments are
    large. A run rebuilds the days changed payments were created on (before and after the
    change); the days of every payment of the orders those payments belong or belonged to
    (a payment that fails, stops failing, moves or goes changes the retries flag of the
    later payments of its order, which may be on other days); and the days a move of
    as_of brought in or took out (the mart is sparse: only days with payments).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['payments_payment']) -%}
{%- set payments_held -%}
    (
        select payments_held.website_id, payments_held.created_date
        from {{ ref('int_payments_dated') }} as payments_held
        inner join {{ ref('int_websites_as_of') }} as websites_held on payments_held.website_id = websites_held.website_id
        where
            payments_held.created_date <= websites_held.as_of_date
            and payments_held.created_date > cast('{{ held_through(window, this, ref('int_websites_as_of')) }}' as date)
    )
{%- endset -%}
{%- set payments_of_changed_orders -%}
    select orders_payments.website_id, orders_payments.created_at
    from {{ raw_relation('payments_payment') }} as orders_payments
    where orders_payments.order_id in (
        select changed_orders.order_id
        from ({{ raw_changed(window, 'payments_payment', {'order_id': dbt.type_bigint()}) }}) as changed_orders
        where changed_orders.order_id is not null
    )
{%- endset -%}
{%- set affected -%}
    {{ raw_days_changed(window, 'payments_payment', ['created_at']) }}
    union
    {{ website_days_of(payments_of_changed_orders, ['created_at']) }}
    union
    {{ as_of_changed(this, payments_held, 'created_date', ref('int_websites_as_of')) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

payments as (
    select changed.* from {{ ref('int_payments_dated') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.created_date'}) }}
),
all_payments as (select * from {{ ref('stg_payments') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

payments_to_date as (

    select payments.*
    from payments
    inner join websites on payments.website_id = websites.website_id
    where payments.created_date <= websites.as_of_date

),

{#- A retry: a payment whose order already had a failed payment created before it (any
    day; the failed one's status as it is now). Only order payments carry an order. -#}
retried as (

    select distinct payments_to_date.payment_id
    from payments_to_date
    inner join all_payments as failed_before
        on payments_to_date.order_id = failed_before.order_id
        and failed_before.status = 'failed'
        and payments_to_date.created_at > failed_before.created_at

),

method_days as (

    select
        payments_to_date.website_id,
        payments_to_date.created_date as business_date,
        payments_to_date.payment_method as method,  -- noqa: RF04
        count(*) as attempts,
        sum(case when payments_to_date.status in ('completed', 'refunded') then 1 else 0 end) as completed,
        sum(case when payments_to_date.status = 'failed' then 1 else 0 end) as failed,
        sum(case when payments_to_date.status = 'pending' then 1 else 0 end) as pending,
        sum(payments_to_date.amount) as amount_attempted,
        sum(
            case when payments_to_date.status in ('completed', 'refunded') then payments_to_date.amount else 0 end
        ) as amount_collected,
        sum(case when payments_to_date.status = 'failed' then payments_to_date.amount else 0 end) as amount_failed,
        count(retried.payment_id) as retries
    from payments_to_date
    left join retried on payments_to_date.payment_id = retried.payment_id
    group by payments_to_date.website_id, payments_to_date.created_date, payments_to_date.payment_method

),

final as (

    select
        website_id,
        business_date,
        cast(method as {{ dbt.type_string() }}) as method,  -- noqa: RF04
        cast(attempts as {{ dbt.type_bigint() }}) as attempts,
        cast(completed as {{ dbt.type_bigint() }}) as completed,
        cast(failed as {{ dbt.type_bigint() }}) as failed,
        cast(pending as {{ dbt.type_bigint() }}) as pending,
        {{ pct('completed', 'completed + failed') }} as success_rate,
        cast(amount_attempted as {{ type_decimal(18, 2) }}) as amount_attempted,
        cast(amount_collected as {{ type_decimal(18, 2) }}) as amount_collected,
        cast(amount_failed as {{ type_decimal(18, 2) }}) as amount_failed,
        cast(retries as {{ dbt.type_bigint() }}) as retries
    from method_days

)

select * from final
