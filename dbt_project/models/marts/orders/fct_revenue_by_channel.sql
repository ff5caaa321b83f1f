with

days as (select * from {{ ref('int_website_days_spined') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
events as (select * from {{ ref('int_channel_events_unioned') }}),
channels as (select * from {{ ref('revenue_channels') }}),

events_to_date as (

    select events.*
    from events
    inner join websites on events.website_id = websites.website_id
    where events.business_date <= websites.as_of_date

),

{#- The daily calendar, plus any earlier day with an event (e.g. a VIP upgrade bought before the first order). -#}
calendar as (

    select
        website_id,
        business_date
    from days
    union
    select
        website_id,
        business_date
    from events_to_date

),

event_days as (

    select
        website_id,
        business_date,
        channel,
        sum(amount) as amount,
        sum(transaction_count) as transaction_count
    from events_to_date
    group by website_id, business_date, channel

),

final as (

    select
        calendar.website_id,
        calendar.business_date,
        cast(channels.channel as {{ dbt.type_string() }}) as channel,
        cast(channels.kind as {{ dbt.type_string() }}) as kind,
        cast(coalesce(event_days.amount, 0) as {{ type_decimal(18, 2) }}) as amount,
        cast(coalesce(event_days.transaction_count, 0) as {{ dbt.type_bigint() }}) as transaction_count
    from calendar
    cross join channels
    left join event_days
        on calendar.website_id = event_days.website_id
        and calendar.business_date = event_days.business_date
        and channels.channel = event_days.channel

)

select * from final
