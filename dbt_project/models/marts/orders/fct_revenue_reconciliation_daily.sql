{#-
    Incremental by website and business day (macros/incremental/slices.sql). Receivables
    are a running state: an order adds its total on its created date and takes it away on
    the date it was first paid, so a change of an order (created, counted, total, paid)
    changes every day from the earlier of its old and new dates on. A run rebuilds, for
    each website, every day from the first one an order of int_orders_settled's delta was
    created or paid on, or that joined or left the calendar; and the days of the money
    movements int_payments_netted removed or added (collected and refunds are per day).
    The rebuilt days carry on from the table's own receivables on the last day before the
    first rebuilt one, plus the running order events after it: exact, as a full build (no
    carried day: the events from the website's first calendar day) is the same sum.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_settled', 'int_payments_netted', 'orders_order']) -%}
{%- set order_days_changed -%}
    select created_changed.website_id, created_changed.created_date as business_date
    from ({{ delta_changed(window, 'int_orders_settled', ['website_id', 'created_date']) }}) as created_changed
    union
    select paid_changed.website_id, paid_changed.paid_date as business_date
    from ({{ delta_changed(window, 'int_orders_settled', ['website_id', 'paid_date']) }}) as paid_changed
    where paid_changed.paid_date is not null
    union
    {{ calendar_changed(ref('int_website_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- set affected -%}
    {{ days_from_first_changed(order_days_changed, ref('int_website_days_spined'), this) }}
    union
    select money_changed.website_id, money_changed.business_date
    from ({{ delta_changed(window, 'int_payments_netted', ['website_id', 'business_date']) }}) as money_changed
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

calendar as (select * from {{ ref('int_website_days_spined') }}),
days as (
    select changed.* from {{ ref('int_website_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
orders as (select * from {{ ref('int_orders_settled') }}),
money as (
    select changed.* from {{ ref('int_payments_netted') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),

{#- The receivables at the end of the table's last day before the first day rebuilt
    (every later day is rebuilt or unchanged); none in a full build. -#}
carried as (

    {%- if window.mode == 'changes' %}
        select
            kept.website_id,
            kept.business_date as carried_date,
            kept.receivables,
            kept.receivable_orders
        from {{ this }} as kept
        inner join (
            select rebuilt.website_id, min(rebuilt.business_date) as first_day
            from {{ window.slices }} as rebuilt
            group by rebuilt.website_id
        ) as firsts
            on kept.website_id = firsts.website_id
            and kept.business_date < firsts.first_day
        qualify row_number() over (partition by kept.website_id order by kept.business_date desc) = 1
    {%- else %}
        select
            cast(null as {{ dbt.type_bigint() }}) as website_id,
            cast(null as date) as carried_date,
            cast(0 as {{ type_decimal(18, 2) }}) as receivables,
            cast(0 as {{ dbt.type_bigint() }}) as receivable_orders
        where false
    {%- endif %}

),

first_days as (

    select
        website_id,
        min(business_date) as first_date
    from calendar
    group by website_id

),

{#- Order events count from the website's first calendar day (an order dated before the
    website opened is on no day, as in gross revenue), after the carried day. -#}
bounds as (

    select
        days.website_id,
        max(days.business_date) as last_day,
        coalesce(
            max(carried.carried_date),
            {{ dbt.dateadd('day', -1, 'min(first_days.first_date)') }}
        ) as start_after,
        coalesce(max(carried.receivables), 0) as carried_receivables,
        coalesce(max(carried.receivable_orders), 0) as carried_orders
    from days
    inner join first_days on days.website_id = first_days.website_id
    left join carried on days.website_id = carried.website_id
    group by days.website_id

),

{#- An order is owed from its created date until the business date of its first
    collected payment (never before it is created). -#}
order_events as (

    select
        website_id,
        created_date as event_date,
        total as receivable_change,
        1 as order_change
    from orders
    where is_counted
    union all
    select
        website_id,
        greatest(created_date, paid_date) as event_date,
        -total as receivable_change,
        -1 as order_change
    from orders
    where is_counted and paid_date is not null

),

event_days as (

    select
        order_events.website_id,
        order_events.event_date as business_date,
        sum(order_events.receivable_change) as receivable_change,
        sum(order_events.order_change) as order_change
    from order_events
    inner join bounds
        on order_events.website_id = bounds.website_id
        and order_events.event_date > bounds.start_after
        and order_events.event_date <= bounds.last_day
    group by order_events.website_id, order_events.event_date

),

running as (

    select
        website_id,
        business_date,
        sum(receivable_change) over website_history as receivable_change,
        sum(order_change) over website_history as order_change
    from (
        select
            website_id,
            business_date,
            sum(receivable_change) as receivable_change,
            sum(order_change) as order_change
        from (
            select
                website_id,
                business_date,
                receivable_change,
                order_change
            from event_days
            union all
            select
                website_id,
                business_date,
                0 as receivable_change,
                0 as order_change
            from days
        ) as dated_events
        group by website_id, business_date
    ) as timeline
    window website_history as (
        partition by website_id
        order by business_date
        rows between unbounded preceding and current row
    )

),

gross_days as (

    select
        website_id,
        created_date as business_date,
        sum(total) as gross_revenue
    from orders
    where is_counted
        and {{ slices_filter(window, {'website_id': 'orders.website_id', 'business_date': 'orders.created_date'}) }}
    group by website_id, created_date

),

money_days as (

    select
        website_id,
        business_date,
        sum(amount) as collected_revenue,
        sum(case when purpose = 'order' then amount else 0 end) as collected_order_revenue,
        sum(case when movement_type = 'refund' then -amount else 0 end) as refunds
    from money
    group by website_id, business_date

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(gross_days.gross_revenue, 0) as {{ type_decimal(18, 2) }}) as gross_revenue,
        cast(coalesce(money_days.collected_revenue, 0) as {{ type_decimal(18, 2) }}) as collected_revenue,
        cast(coalesce(money_days.refunds, 0) as {{ type_decimal(18, 2) }}) as refunds,
        cast(bounds.carried_receivables + running.receivable_change as {{ type_decimal(18, 2) }}) as receivables,
        cast(coalesce(money_days.collected_order_revenue, 0) as {{ type_decimal(18, 2) }}) as collected_order_revenue,
        cast(
            coalesce(money_days.collected_revenue, 0) - coalesce(money_days.collected_order_revenue, 0)
            as {{ type_decimal(18, 2) }}
        ) as collected_other_revenue,
        cast(bounds.carried_orders + running.order_change as {{ dbt.type_bigint() }}) as receivable_orders
    from days
    inner join bounds on days.website_id = bounds.website_id
    inner join running
        on days.website_id = running.website_id
        and days.business_date = running.business_date
    left join gross_days
        on days.website_id = gross_days.website_id
        and days.business_date = gross_days.business_date
    left join money_days
        on days.website_id = money_days.website_id
        and days.business_date = money_days.business_date

)

select * from final
