{#
    Reconciliation: Σ gross_revenue of fct_daily_snapshot equals Σ total of the counted
    orders (status <> 'cancelled') in raw placed up to as_of, per website. Computed from
    raw directly, with its own business-date arithmetic, so a broken join, filter or date
    in between shows. Returns the websites that disagree.
#}
with

raw_orders as (select * from {{ source('raw', 'orders_order') }}),
raw_websites as (select * from {{ source('raw', 'accounts_website') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
snapshot as (select * from {{ ref('fct_daily_snapshot') }}),

raw_totals as (

    select
        raw_orders.website_id,
        sum(raw_orders.total) as gross_revenue
    from raw_orders
    inner join raw_websites on raw_orders.website_id = raw_websites.id
    inner join websites on raw_orders.website_id = websites.website_id
    where raw_orders.status <> 'cancelled'
        and cast({{ local_timestamp('raw_orders.created_at', 'raw_websites.timezone') }} as date) <= websites.as_of_date
    group by raw_orders.website_id

),

mart_totals as (

    select
        website_id,
        sum(gross_revenue) as gross_revenue
    from snapshot
    group by website_id

),

final as (

    select
        coalesce(raw_totals.website_id, mart_totals.website_id) as website_id,
        raw_totals.gross_revenue as raw_gross_revenue,
        mart_totals.gross_revenue as mart_gross_revenue
    from raw_totals
    full outer join mart_totals on raw_totals.website_id = mart_totals.website_id
    where coalesce(raw_totals.gross_revenue, 0) <> coalesce(mart_totals.gross_revenue, 0)

)

select * from final
