{#
    The orders the marts may see: placed on or before their website's as_of date.
#}
{#- A view: a filter on the int_orders_enriched table, cheaper to read than a copy to write. #}
{{ config(materialized='view') }}
with

orders as (select * from {{ ref('int_orders_enriched') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

final as (

    select
        orders.*,
        websites.as_of_date
    from orders
    inner join websites on orders.website_id = websites.website_id
    where orders.created_date <= websites.as_of_date

)

select * from final
