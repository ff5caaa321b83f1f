{#
    Nothing is lost between the staff and kitchen marts and the daily operations marts:
    per website and month, the riders' deliveries add up to fct_deliveries_daily's and the
    agents' tickets (the unassigned row included) to fct_support_tickets_daily's opened
    tickets; per website and day, the kitchen's hours add up to its day. A row is a
    website and period where they differ.
#}
with

riders as (select * from {{ ref('fct_rider_performance_monthly') }}),
deliveries as (select * from {{ ref('fct_deliveries_daily') }}),
agents as (select * from {{ ref('fct_support_agents_monthly') }}),
tickets as (select * from {{ ref('fct_support_tickets_daily') }}),
kitchen_days as (select * from {{ ref('fct_kitchen_daily') }}),
kitchen_hours as (select * from {{ ref('fct_kitchen_hourly') }}),

rider_months as (
    select
        website_id,
        month,
        sum(deliveries) as staff_total
    from riders
    group by website_id, month
),

delivery_months as (
    select
        website_id,
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as period,
        sum(deliveries) as daily_total
    from deliveries
    group by website_id, cast({{ dbt.date_trunc('month', 'business_date') }} as date)
),

agent_months as (
    select
        website_id,
        month,
        sum(tickets) as staff_total
    from agents
    group by website_id, month
),

ticket_months as (
    select
        website_id,
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as period,
        sum(tickets_opened) as daily_total
    from tickets
    group by website_id, cast({{ dbt.date_trunc('month', 'business_date') }} as date)
),

hour_days as (
    select
        website_id,
        business_date,
        sum(orders_confirmed) as hourly_total
    from kitchen_hours
    group by website_id, business_date
),

final as (

    select
        'riders vs deliveries' as broken_rule,
        coalesce(rider_months.website_id, delivery_months.website_id) as website_id,
        coalesce(rider_months.month, delivery_months.period) as period,
        coalesce(rider_months.staff_total, 0) as staff_total,
        coalesce(delivery_months.daily_total, 0) as daily_total
    from rider_months
    full outer join delivery_months
        on rider_months.website_id = delivery_months.website_id
        and rider_months.month = delivery_months.period
    where coalesce(rider_months.staff_total, 0) <> coalesce(delivery_months.daily_total, 0)

    union all

    select
        'agents vs tickets opened' as broken_rule,
        coalesce(agent_months.website_id, ticket_months.website_id) as website_id,
        coalesce(agent_months.month, ticket_months.period) as period,
        coalesce(agent_months.staff_total, 0) as staff_total,
        coalesce(ticket_months.daily_total, 0) as daily_total
    from agent_months
    full outer join ticket_months
        on agent_months.website_id = ticket_months.website_id
        and agent_months.month = ticket_months.period
    where coalesce(agent_months.staff_total, 0) <> coalesce(ticket_months.daily_total, 0)

    union all

    select
        'kitchen hours vs day' as broken_rule,
        coalesce(kitchen_days.website_id, hour_days.website_id) as website_id,
        coalesce(kitchen_days.business_date, hour_days.business_date) as period,
        coalesce(hour_days.hourly_total, 0) as staff_total,
        coalesce(kitchen_days.orders_confirmed, 0) as daily_total
    from kitchen_days
    full outer join hour_days
        on kitchen_days.website_id = hour_days.website_id
        and kitchen_days.business_date = hour_days.business_date
    where coalesce(hour_days.hourly_total, 0) <> coalesce(kitchen_days.orders_confirmed, 0)

)

select * from final
