{#
    When a subscription counts as active (METRICS.md): started_at <= t < active_to, where
    active_to = cancelled_at, or current_period_end for an EXPIRED one; NULL (still
    active) otherwise. PAUSED subscriptions stay active: the rule does not exclude them.
#}
with

subscriptions as (select * from {{ ref('int_subscriptions_dated') }}),

final as (

    select
        subscription_id,
        user_id,
        website_id,
        plan_id,
        status,
        started_at as active_from,
        coalesce(
            cancelled_at,
            case when status = 'EXPIRED' then current_period_end_at end
        ) as active_to
    from subscriptions

)

select * from final
