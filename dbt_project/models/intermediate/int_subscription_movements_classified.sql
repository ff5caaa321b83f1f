{#
    Each subscriber's MRR movement in each calendar month (METRICS.md, Subscriptions). A
    user's MRR at an instant is the sum of the monthly values of their subscriptions
    active then; it is read at each month's last instant (just before the month's end,
    the midnight after its last day in the website's zone: active_from < end <=
    active_to, as the daily marts read a day), and for the month of as_of at the end of
    as_of, the last instant the data describes. The months run from the website's first
    month with data (its first calendar day or its first subscription, whichever is
    earlier) to as_of's month; the first month's opening is read at the end of the month
    before it.
    Subscription x month-end join only (a handful of month ends per website); only
    users with MRR at some month end get rows: the month they have it and the next.
#}
with

months as (select * from {{ ref('int_subscription_months_spined') }}),
subscriptions as (select * from {{ ref('int_subscriptions_valued') }}),

{#- Month ends: each month's close, numbered as the month, and the first month's opening (0). -#}
month_ends as (

    select
        website_id,
        month_number,
        closing_at as end_at
    from months
    union all
    select
        website_id,
        0 as month_number,
        opening_at as end_at
    from months
    where month_number = 1

),

user_month_ends as (

    select
        month_ends.website_id,
        subscriptions.user_id,
        month_ends.month_number,
        sum(coalesce(subscriptions.monthly_value, 0)) as mrr
    from month_ends
    inner join subscriptions
        on month_ends.website_id = subscriptions.website_id
        and month_ends.end_at > subscriptions.active_from
        and (subscriptions.active_to is null or month_ends.end_at <= subscriptions.active_to)
    group by month_ends.website_id, subscriptions.user_id, month_ends.month_number
    having sum(coalesce(subscriptions.monthly_value, 0)) > 0

),

first_paying as (

    select
        website_id,
        user_id,
        min(month_number) as first_month_number
    from user_month_ends
    group by website_id, user_id

),

user_months as (

    select
        website_id,
        user_id,
        month_number
    from user_month_ends
    where month_number >= 1
    union
    select
        website_id,
        user_id,
        month_number + 1 as month_number
    from user_month_ends

),

user_month_mrr as (

    select
        user_months.website_id,
        user_months.user_id,
        months.month,
        user_months.month_number,
        coalesce(opening.mrr, 0) as opening_mrr,
        coalesce(closing.mrr, 0) as closing_mrr,
        first_paying.first_month_number < user_months.month_number - 1 as had_mrr_before
    from user_months
    inner join months
        on user_months.website_id = months.website_id
        and user_months.month_number = months.month_number
    inner join first_paying
        on user_months.website_id = first_paying.website_id
        and user_months.user_id = first_paying.user_id
    left join user_month_ends as opening
        on user_months.website_id = opening.website_id
        and user_months.user_id = opening.user_id
        and user_months.month_number - 1 = opening.month_number
    left join user_month_ends as closing
        on user_months.website_id = closing.website_id
        and user_months.user_id = closing.user_id
        and user_months.month_number = closing.month_number

),

final as (

    select
        *,
        case
            when opening_mrr = 0 and closing_mrr > 0 and had_mrr_before then 'reactivation'
            when opening_mrr = 0 and closing_mrr > 0 then 'new'
            when opening_mrr > 0 and closing_mrr = 0 then 'churn'
            when closing_mrr > opening_mrr then 'expansion'
            when closing_mrr < opening_mrr then 'contraction'
            else 'unchanged'
        end as movement
    from user_month_mrr

)

select * from final
