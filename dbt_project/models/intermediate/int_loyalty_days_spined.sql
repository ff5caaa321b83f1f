{#
    The calendar of the loyalty marts: every business date from the website's first
    ledger entry (or completed redemption) on or after its opening date to as_of. Empty
    for a website without one.
#}
with

account_days as (select * from {{ ref('int_loyalty_ledger_days_accumulated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

bounds as (

    select
        websites.website_id,
        -- The first plausible date: a row dated before the website opened (1970) is
        -- reported by a raw check, and does not stretch the calendar back to it.
        min(
            case
                when
                    account_days.business_date
                    >= coalesce(websites.opened_date, account_days.business_date)
                    then account_days.business_date
            end
        ) as first_date,
        websites.as_of_date
    from websites
    inner join account_days on websites.website_id = account_days.website_id
    group by websites.website_id, websites.opened_date, websites.as_of_date

),

final as (

    {{ days_between('bounds', ['website_id'], 'first_date', 'as_of_date') }}

)

select * from final
