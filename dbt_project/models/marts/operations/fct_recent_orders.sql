{#-
    The latest 100 orders of each website placed up to as_of (METRICS.md, Recent orders),
    latest first: created_at descending, ties by the higher order_id. No customer name,
    email or phone, and no user_id either: the table is an activity feed, not a way to
    follow one customer's orders.
    A plain table: 100 rows per website, whatever the history; a run with new orders
    recomputes it (a top-100 over the orders, cheap beside the incremental marts).
-#}

with

orders as (select * from {{ ref('int_orders_to_date') }}),
versions as (select * from {{ ref('int_website_versions') }}),
items as (select * from {{ ref('stg_order_items') }}),

ranked as (

    select
        orders.order_id,
        orders.website_id,
        orders.created_at,
        orders.created_date,
        orders.status,
        orders.channel,
        orders.total,
        orders.payment_method,
        orders.payment_status,
        row_number() over (
            partition by orders.website_id
            order by orders.created_at desc, orders.order_id desc
        ) as recency_rank
    from orders

),

recent as (

    select * from ranked
    where recency_rank <= 100

),

recent_items as (

    select
        items.order_id,
        count(*) as line_count,
        sum(items.quantity) as item_count
    from items
    inner join recent on items.order_id = recent.order_id
    group by items.order_id

),

final as (

    select
        recent.order_id,
        recent.website_id,
        recent.created_date as business_date,
        {{ local_timestamp('recent.created_at', 'versions.timezone') }} as local_time,
        recent.created_at,
        recent.status,
        recent.channel,
        recent.total,
        recent.payment_method,
        recent.payment_status,
        cast(coalesce(recent_items.item_count, 0) as {{ dbt.type_bigint() }}) as item_count,
        cast(coalesce(recent_items.line_count, 0) as {{ dbt.type_bigint() }}) as line_count,
        cast(recent.recency_rank as {{ dbt.type_int() }}) as recency_rank
    from recent
    left join versions
        on recent.website_id = versions.website_id
        and (versions.valid_from is null or recent.created_at >= versions.valid_from)
        and (versions.valid_to is null or recent.created_at < versions.valid_to)
    left join recent_items on recent.order_id = recent_items.order_id

)

select * from final
