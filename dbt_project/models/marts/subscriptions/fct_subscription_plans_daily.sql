{#-
    fct_subscriptions_daily by plan (the plan mix), read the same way: at each day's last
    instant, from running sums of the changes of int_subscription_changes_unioned,
    subscribers over their merged spells on the plan. Every plan of the website has a row
    every day (zeros included), and so does a plan some subscription of the website
    points to (a plan of another website, or a missing one: the warn tests of
    int_subscriptions_valued and staging name it), so the plans add up to
    fct_subscriptions_daily's subscriptions and MRR.
    A plain table: subscriptions and plans are small inputs.
-#}
with

days as (select * from {{ ref('int_website_days_spined') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
plans as (select * from {{ ref('stg_subscription_plans') }}),
subscriptions as (select * from {{ ref('int_subscriptions_valued') }}),
subscription_changes as (select * from {{ ref('int_subscription_changes_unioned') }}),

website_plans as (

    select
        website_id,
        plan_id
    from plans
    union
    select
        website_id,
        plan_id
    from subscriptions

),

plan_day_ends as (

    select
        days.website_id,
        days.business_date,
        website_plans.plan_id,
        {{ business_day_end('days.business_date', 'websites.timezone') }} as day_end_at
    from days
    inner join websites on days.website_id = websites.website_id
    inner join website_plans on days.website_id = website_plans.website_id

),

changes as (

    select
        website_id,
        plan_id,
        changed_at,
        subscriptions_change,
        plan_subscribers_change as subscribers_change,
        mrr_change
    from subscription_changes
    where plan_id is not null
    union all
    select
        website_id,
        plan_id,
        day_end_at as changed_at,
        0 as subscriptions_change,
        0 as subscribers_change,
        0 as mrr_change
    from plan_day_ends

),

{#- Sums of the changes strictly before each instant: the running sum minus its own. -#}
running as (

    select
        website_id,
        plan_id,
        changed_at,
        sum(sum(subscriptions_change)) over running_order - sum(subscriptions_change) as active_subscriptions,
        sum(sum(subscribers_change)) over running_order - sum(subscribers_change) as active_subscribers,
        sum(sum(mrr_change)) over running_order - sum(mrr_change) as mrr
    from changes
    group by website_id, plan_id, changed_at
    window running_order as (
        partition by website_id, plan_id
        order by changed_at
        rows between unbounded preceding and current row
    )

),

final as (

    select
        plan_day_ends.website_id,
        plan_day_ends.business_date,
        plan_day_ends.plan_id,
        cast(plans.plan_name as {{ dbt.type_string() }}) as plan_name,
        cast(plans.billing_interval as {{ dbt.type_string() }}) as billing_interval,
        cast(running.active_subscriptions as {{ dbt.type_bigint() }}) as active_subscriptions,
        cast(running.active_subscribers as {{ dbt.type_bigint() }}) as active_subscribers,
        cast(running.mrr as {{ type_decimal(18, 2) }}) as mrr,
        {{ pct(
            'running.mrr',
            'sum(running.mrr) over (partition by plan_day_ends.website_id, plan_day_ends.business_date)'
        ) }} as mrr_share
    from plan_day_ends
    inner join running
        on plan_day_ends.website_id = running.website_id
        and plan_day_ends.plan_id = running.plan_id
        and plan_day_ends.day_end_at = running.changed_at
    left join plans on plan_day_ends.plan_id = plans.plan_id

)

select * from final
