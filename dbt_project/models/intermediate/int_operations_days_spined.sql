{#
    The calendar of the operations daily marts (support tickets, consultations, kitchen):
    every business date from the website's first activity any of them counts, on or after
    its opening date, to as_of: an order placed or confirmed, a support ticket opened or
    resolved, a consultation scheduled. A customer may write to support or book a
    nutritionist before ordering: the day of that ticket is a day of the calendar, so the
    daily marts keep every row the staff marts count. It starts on or before
    int_website_days_spined (the orders' calendar, METRICS.md's daily snapshot) and ends
    with it. Empty for a website without any such activity.
#}
with

orders as (select * from {{ ref('int_orders_dated') }}),
confirmed as (select * from {{ ref('int_orders_prepared') }}),
tickets as (select * from {{ ref('int_support_tickets_dated') }}),
consultations as (select * from {{ ref('int_consultations_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

activity_days as (

    select
        website_id,
        created_date as business_date
    from orders
    union all
    select
        website_id,
        confirmed_date as business_date
    from confirmed
    union all
    select
        website_id,
        created_date as business_date
    from tickets
    union all
    select
        website_id,
        resolved_date as business_date
    from tickets
    where resolved_date is not null
    union all
    select
        website_id,
        scheduled_date as business_date
    from consultations

),

bounds as (

    select
        websites.website_id,
        -- The first plausible date: a row dated before the website opened (1970) is
        -- reported by a raw check, and does not stretch the calendar back to it.
        min(
            case
                when
                    activity_days.business_date
                    >= coalesce(websites.opened_date, activity_days.business_date)
                    then activity_days.business_date
            end
        ) as first_date,
        websites.as_of_date
    from websites
    inner join activity_days on websites.website_id = activity_days.website_id
    group by websites.website_id, websites.opened_date, websites.as_of_date

),

final as (

    {{ days_between('bounds', ['website_id'], 'first_date', 'as_of_date') }}

)

select * from final
