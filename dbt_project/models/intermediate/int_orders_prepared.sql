{#
    Orders the kitchen confirmed up to as_of, timed (METRICS.md, Staff, kitchen): the
    business date and local hour of confirmed_at (in the time zone the website had at that
    instant), and the elapsed time from confirmed_at to prepared_at, computed between the
    two UTC instants, so a DST change adds or removes no hour and an order confirmed at
    23:50 and prepared at 00:10 local belongs to the day and hour of its confirmation.
#}
{#-
    A view: a filter and a time-zone join over int_orders_to_date (itself a view over the
    incremental int_orders_enriched), read only by the kitchen marts, which filter it to
    the days they rebuild.
-#}
{{ config(materialized='view') }}

with

orders as (select * from {{ ref('int_orders_to_date') }}),
versions as (select * from {{ ref('int_website_versions') }}),

localized as (

    select
        orders.order_id,
        orders.website_id,
        orders.as_of_date,
        orders.confirmed_at,
        orders.prepared_at,
        {{ business_date('orders.confirmed_at', 'versions.timezone') }} as confirmed_date,
        {{ local_timestamp('orders.confirmed_at', 'versions.timezone') }} as confirmed_at_local
    from orders
    inner join versions
        on orders.website_id = versions.website_id
        and (versions.valid_from is null or orders.confirmed_at >= versions.valid_from)
        and (versions.valid_to is null or orders.confirmed_at < versions.valid_to)
    where orders.confirmed_at is not null

),

final as (

    select
        order_id,
        website_id,
        confirmed_at,
        prepared_at,
        confirmed_date,
        cast(extract(hour from confirmed_at_local) as {{ dbt.type_int() }}) as confirmed_hour,
        case
            when prepared_at is not null
                then {{ dbt.datediff('confirmed_at', 'prepared_at', 'microsecond') }}
        end as prep_microseconds
    from localized
    where confirmed_date <= as_of_date

)

select * from final
