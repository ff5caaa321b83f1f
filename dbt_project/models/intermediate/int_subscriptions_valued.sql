{#
    Each subscription with its monthly value (METRICS.md, Subscriptions): the source keeps
    no price history, so it is its plan's current price normalized to a month: monthly
    plans their price, weekly plans price x 52 / 12, rounded once per subscription to the
    cent (half away from zero, exact DECIMAL arithmetic: decimal_div); an MRR is the sum
    of these rounded values. A plan of another interval, or a missing plan, gives NULL
    (the accepted_values and relationships tests of staging name them; the marts count
    the subscription with no value).
    An interval that ends before it starts is empty here (active_to = active_from), never
    negative: the warn test subscription_ends_after_it_starts on
    int_subscriptions_periodized names the row.
    A plain table: subscriptions are a small input (about 70k rows at 1M customers).
#}
with

subscriptions as (select * from {{ ref('int_subscriptions_periodized') }}),
plans as (select * from {{ ref('stg_subscription_plans') }}),

final as (

    select
        subscriptions.subscription_id,
        subscriptions.user_id,
        subscriptions.website_id,
        subscriptions.plan_id,
        plans.website_id as plan_website_id,
        plans.billing_interval,
        plans.price,
        cast(
            case
                when plans.billing_interval = 'monthly' then plans.price
                when plans.billing_interval = 'weekly' then {{ decimal_div('plans.price * 52', 12, 2) }}
            end as {{ type_decimal(18, 2) }}
        ) as monthly_value,
        subscriptions.active_from,
        case
            when subscriptions.active_to < subscriptions.active_from then subscriptions.active_from
            else subscriptions.active_to
        end as active_to
    from subscriptions
    left join plans on subscriptions.plan_id = plans.plan_id

)

select * from final
