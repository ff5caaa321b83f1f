{#-
    The state at the end of each business day: at its last instant, just before
    business_day_end (midnight after it in the website's zone), so a subscription counts
    on day d when active_from < end of d <= active_to (METRICS.md's started_at <= t <
    ended_at at that instant; dim_customers.subscription_active reads as_of the same way).
    Running sums of the +1/-1 (and +/- monthly value) changes of
    int_subscription_changes_unioned, read at each day end (changes strictly before it):
    no subscription x day join. Subscribers are counted over their merged spells, so two
    subscriptions of one subscriber, or a plan switch at one instant, count once.
    A plain table: subscriptions are a small input; the pipeline skips the model when
    they did not change.
-#}
with

days as (select * from {{ ref('int_website_days_spined') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
subscription_changes as (select * from {{ ref('int_subscription_changes_unioned') }}),

day_ends as (

    select
        days.website_id,
        days.business_date,
        {{ business_day_end('days.business_date', 'websites.timezone') }} as day_end_at
    from days
    inner join websites on days.website_id = websites.website_id

),

changes as (

    select
        website_id,
        changed_at,
        subscriptions_change,
        subscribers_change,
        mrr_change
    from subscription_changes
    union all
    select
        website_id,
        day_end_at as changed_at,
        0 as subscriptions_change,
        0 as subscribers_change,
        0 as mrr_change
    from day_ends

),

{#- Sums of the changes strictly before each instant: the running sum minus its own. -#}
running as (

    select
        website_id,
        changed_at,
        sum(sum(subscriptions_change)) over running_order - sum(subscriptions_change) as active_subscriptions,
        sum(sum(subscribers_change)) over running_order - sum(subscribers_change) as active_subscribers,
        sum(sum(mrr_change)) over running_order - sum(mrr_change) as mrr
    from changes
    group by website_id, changed_at
    window running_order as (
        partition by website_id
        order by changed_at
        rows between unbounded preceding and current row
    )

),

final as (

    select
        day_ends.website_id,
        day_ends.business_date,
        cast(running.active_subscriptions as {{ dbt.type_bigint() }}) as active_subscriptions,
        cast(running.active_subscribers as {{ dbt.type_bigint() }}) as active_subscribers,
        cast(running.mrr as {{ type_decimal(18, 2) }}) as mrr
    from day_ends
    inner join running
        on day_ends.website_id = running.website_id
        and day_ends.day_end_at = running.changed_at

)

select * from final
