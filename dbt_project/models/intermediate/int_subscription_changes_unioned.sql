{#
    Every change of what is active, as +1/-1 (and +/- monthly value) at an instant: a
    subscription starts (active_from) or ends (active_to); a subscriber's spell starts or
    ends (macro subscription_spells: their subscriptions merged where they overlap or
    touch, so one subscriber counts once however many subscriptions they hold, and a plan
    switch at one instant is no gap); a subscriber's spell on a plan starts or ends.
    Running sums of these, read at an instant, give what is active then without a
    subscription x day join (fct_subscriptions_daily, fct_subscription_plans_daily).
    Subscriber spell rows carry no plan_id (they span plans).
    A plain table: subscriptions are a small input.
#}
with

subscriptions as (select * from {{ ref('int_subscriptions_valued') }}),

subscriber_spells as (

    {{ subscription_spells('subscriptions', ['website_id', 'user_id'], 'active_from', 'active_to') }}

),

plan_spells as (

    {{ subscription_spells('subscriptions', ['website_id', 'plan_id', 'user_id'], 'active_from', 'active_to') }}

),

subscription_changes as (

    select
        website_id,
        plan_id,
        active_from as changed_at,
        1 as subscriptions_change,
        coalesce(monthly_value, 0) as mrr_change
    from subscriptions
    union all
    select
        website_id,
        plan_id,
        active_to as changed_at,
        -1 as subscriptions_change,
        -coalesce(monthly_value, 0) as mrr_change
    from subscriptions
    where active_to is not null

),

spell_changes as (

    select
        website_id,
        cast(null as {{ dbt.type_bigint() }}) as plan_id,
        spell_from as changed_at,
        1 as subscribers_change,
        0 as plan_subscribers_change
    from subscriber_spells
    union all
    select
        website_id,
        cast(null as {{ dbt.type_bigint() }}) as plan_id,
        spell_to as changed_at,
        -1 as subscribers_change,
        0 as plan_subscribers_change
    from subscriber_spells
    where spell_to is not null
    union all
    select
        website_id,
        plan_id,
        spell_from as changed_at,
        0 as subscribers_change,
        1 as plan_subscribers_change
    from plan_spells
    union all
    select
        website_id,
        plan_id,
        spell_to as changed_at,
        0 as subscribers_change,
        -1 as plan_subscribers_change
    from plan_spells
    where spell_to is not null

),

final as (

    select
        website_id,
        plan_id,
        changed_at,
        subscriptions_change,
        0 as subscribers_change,
        0 as plan_subscribers_change,
        mrr_change
    from subscription_changes
    union all
    select
        website_id,
        plan_id,
        changed_at,
        0 as subscriptions_change,
        subscribers_change,
        plan_subscribers_change,
        0 as mrr_change
    from spell_changes

)

select * from final
