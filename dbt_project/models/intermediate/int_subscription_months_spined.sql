{#
    The months of each website's MRR movements: every calendar month from the website's
    first month with data (its first calendar day, or its first subscription if earlier)
    to the month of as_of, with the instants its MRR is read at: opening_at, the end of
    the month before (the midnight its first day starts, in the website's zone), and
    closing_at, the end of its last day, or for the month of as_of the end of as_of (the
    last instant the data describes). Empty for a website with neither. The column is
    `month`, as DESIGN.md names it in the monthly marts (hence its noqa: RF04).
#}
with

websites as (select * from {{ ref('int_websites_as_of') }}),
days as (select * from {{ ref('int_website_days_spined') }}),
subscriptions as (select * from {{ ref('int_subscriptions_valued') }}),

first_dates as (

    select
        website_id,
        min(business_date) as first_date
    from days
    group by website_id
    union all
    select
        subscriptions.website_id,
        min({{ business_date('subscriptions.active_from', 'websites.timezone') }}) as first_date
    from subscriptions
    inner join websites on subscriptions.website_id = websites.website_id
    where
        subscriptions.active_from < websites.as_of_end_at
        -- A start dated before the website opened (a zeroed clock) is implausible: a raw
        -- check names it, the months do not stretch back to it (int_website_days_spined).
        and {{ business_date('subscriptions.active_from', 'websites.timezone') }}
        >= coalesce(websites.opened_date, {{ business_date('subscriptions.active_from', 'websites.timezone') }})
    group by subscriptions.website_id

),

bounds as (

    select
        websites.website_id,
        websites.timezone,
        websites.as_of_date,
        cast({{ dbt.date_trunc('month', 'min(first_dates.first_date)') }} as date) as first_month,
        cast({{ dbt.date_trunc('month', 'websites.as_of_date') }} as date) as last_month
    from websites
    inner join first_dates on websites.website_id = first_dates.website_id
    group by websites.website_id, websites.timezone, websites.as_of_date

),

bound_days as (

    {{ days_between('bounds', ['website_id', 'timezone', 'as_of_date'], 'first_month', 'last_month') }}

),

final as (

    select
        website_id,
        business_date as month,  -- noqa: RF04
        cast(row_number() over (partition by website_id order by business_date) as {{ dbt.type_int() }})
            as month_number,
        {{ business_day_end(dbt.dateadd('day', -1, 'business_date'), 'timezone') }} as opening_at,
        {{ business_day_end(
            'least(' ~ dbt.last_day('business_date', 'month') ~ ', as_of_date)', 'timezone'
        ) }} as closing_at
    from bound_days
    where business_date = cast({{ dbt.date_trunc('month', 'business_date') }} as date)

)

select * from final
