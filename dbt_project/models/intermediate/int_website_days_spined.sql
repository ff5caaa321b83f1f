{#
    The calendar of each website's daily marts: every business date from its first order
    (any status) on or after its opening date to as_of, days without activity included.
    Empty for a website with no order on or before as_of.
#}
with

orders as (select * from {{ ref('int_orders_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

bounds as (

    select
        websites.website_id,
        -- The first plausible date: a row dated before the website opened (1970) is
        -- reported by a raw check, and does not stretch the calendar back to it.
        min(
            case
                when orders.created_date >= coalesce(websites.opened_date, orders.created_date)
                    then orders.created_date
            end
        ) as first_date,
        websites.as_of_date
    from websites
    inner join orders on websites.website_id = orders.website_id
    group by websites.website_id, websites.opened_date, websites.as_of_date

),

final as (

    {{ days_between('bounds', ['website_id'], 'first_date', 'as_of_date') }}

)

select * from final
