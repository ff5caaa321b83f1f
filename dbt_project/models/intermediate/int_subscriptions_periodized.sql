{#
    When a subscription counts as active (METRICS.md): started_at <= t < active_to, where
    active_to = cancelled_at for a CANCELLED one, current_period_end for an EXPIRED one,
    NULL (still active) otherwise: the status decides, so a cancelled_at on a row of
    another status does not end it (test status_matches_cancelled_at reports such rows).
    PAUSED subscriptions stay active: the rule does not exclude them.
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
        case
            when status = 'CANCELLED' then cancelled_at
            when status = 'EXPIRED' then current_period_end_at
        end as active_to,
        cancelled_at
    from subscriptions

)

select * from final
