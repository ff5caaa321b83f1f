{#
    The calendar of each website's daily marts: every business date from its first order
    (any status) to as_of, days without activity included. Empty for a website with no
    order on or before as_of.
#}
with

orders as (select * from {{ ref('int_orders_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

bounds as (

    select
        websites.website_id,
        min(orders.created_date) as first_date,
        websites.as_of_date
    from websites
    inner join orders on websites.website_id = orders.website_id
    group by websites.website_id, websites.as_of_date

),

final as (

    {{ days_between('bounds', ['website_id'], 'first_date', 'as_of_date') }}

)

select * from final
