{#
    A plain table: catering bookings are few; the pipeline skips it when they did not change.
#}
with

bookings as (select * from {{ ref('stg_catering_bookings') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

{#- Bookings made by as_of (created_at's business date), each in its event's month. -#}
booked as (

    select
        bookings.website_id,
        cast({{ dbt.date_trunc('month', 'bookings.event_date') }} as date) as month,  -- noqa: RF04
        bookings.status,
        bookings.guests,
        bookings.amount,
        bookings.event_date <= websites.as_of_date as is_due
    from bookings
    inner join websites on bookings.website_id = websites.website_id
    where {{ business_date('bookings.created_at', 'websites.timezone') }} <= websites.as_of_date

),

monthly as (

    select
        website_id,
        month,
        count(*) as bookings,
        sum(case when status = 'requested' then 1 else 0 end) as requested,
        sum(case when status = 'confirmed' then 1 else 0 end) as confirmed,
        sum(case when status = 'completed' then 1 else 0 end) as completed,
        sum(case when status = 'cancelled' then 1 else 0 end) as cancelled,
        coalesce(sum(case when status <> 'cancelled' then guests end), 0) as guests,
        coalesce(sum(case when status <> 'cancelled' then amount end), 0) as amount,
        sum(case when is_due then 1 else 0 end) as events_due,
        sum(case when is_due and status = 'completed' then 1 else 0 end) as completed_due
    from booked
    group by website_id, month

),

final as (

    select
        website_id,
        month,
        cast(bookings as {{ dbt.type_bigint() }}) as bookings,
        cast(requested as {{ dbt.type_bigint() }}) as requested,
        cast(confirmed as {{ dbt.type_bigint() }}) as confirmed,
        cast(completed as {{ dbt.type_bigint() }}) as completed,
        cast(cancelled as {{ dbt.type_bigint() }}) as cancelled,
        cast(guests as {{ dbt.type_bigint() }}) as guests,
        cast(amount as {{ type_decimal(18, 2) }}) as amount,
        cast(events_due as {{ dbt.type_bigint() }}) as events_due,
        {{ pct('completed_due', 'events_due') }} as completion_rate
    from monthly

)

select * from final
