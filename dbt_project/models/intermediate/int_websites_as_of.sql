{#
    The reporting "now" of each website: as_of_date (var('as_of'), or yesterday in the
    website's time zone) and the instant that business date ends, before which every
    "as of" fact must have happened; and opened_date, the business date it was created,
    before which no daily calendar starts (a row dated earlier is implausible: the raw
    check plausible_dates names it, the calendars do not stretch back to it).
#}
with

websites as (select * from {{ ref('stg_websites') }}),

dated as (

    select
        website_id,
        timezone,
        {{ business_date('created_at', 'timezone') }} as opened_date,
        {{ as_of_date('timezone') }} as as_of_date
    from websites

),

final as (

    select
        website_id,
        timezone,
        opened_date,
        as_of_date,
        {{ business_day_end('as_of_date', 'timezone') }} as as_of_end_at
    from dated

)

select * from final
