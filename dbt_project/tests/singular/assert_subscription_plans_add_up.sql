{#
    fct_subscription_plans_daily adds up to fct_subscriptions_daily: on every website and
    day, the plans' subscriptions and MRR sum to the website's (zero on a website without
    plans, which has no plan rows), and no plan row falls on a day the website lacks.
    Fails with the days that do not.
#}
with

plans as (select * from {{ ref('fct_subscription_plans_daily') }}),
websites as (select * from {{ ref('fct_subscriptions_daily') }}),

plan_totals as (

    select
        website_id,
        business_date,
        sum(active_subscriptions) as active_subscriptions,
        sum(mrr) as mrr
    from plans
    group by website_id, business_date

),

final as (

    select
        coalesce(websites.website_id, plan_totals.website_id) as website_id,
        coalesce(websites.business_date, plan_totals.business_date) as business_date,
        websites.active_subscriptions,
        plan_totals.active_subscriptions as plan_subscriptions,
        websites.mrr,
        plan_totals.mrr as plan_mrr
    from websites
    full outer join plan_totals
        on websites.website_id = plan_totals.website_id
        and websites.business_date = plan_totals.business_date
    where
        websites.website_id is null
        or websites.active_subscriptions <> coalesce(plan_totals.active_subscriptions, 0)
        or websites.mrr <> coalesce(plan_totals.mrr, 0)

)

select * from final
