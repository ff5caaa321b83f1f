{#
    The orders a campaign influenced (METRICS.md, campaigns): counted orders up to as_of
    carrying its campaign_id and created within [start_date, end_date] (the campaign's
    timestamps, inclusive).
#}
with

orders as (select * from {{ ref('int_orders_to_date') }}),
campaigns as (select * from {{ ref('stg_campaigns') }}),

final as (

    select
        orders.order_id,
        campaigns.campaign_id,
        campaigns.website_id,
        orders.user_id,
        orders.created_at,
        orders.created_date,
        orders.total,
        orders.discount_amount
    from orders
    inner join campaigns on orders.campaign_id = campaigns.campaign_id
    where orders.is_counted
        and orders.created_at >= campaigns.starts_at
        and orders.created_at <= campaigns.ends_at

)

select * from final
