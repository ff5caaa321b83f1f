{#
    Deliveries of orders placed up to as_of, timed: minutes from the order's created_at
    to the delivery's delivered_at (delivered deliveries only), on time when <= 45
    minutes (METRICS.md, Operations).
#}
{#-
    Incremental by delivery (macros/incremental/slices.sql): a run rebuilds the deliveries
    that changed, the deliveries of the orders whose rows changed (their website, date or
    created_at), and the deliveries of the orders as_of moved in or out: orders dated after
    the last order date the model holds for their website, and rows dated after as_of.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['delivery_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['delivery_delivery', 'int_orders_enriched']) -%}
{%- set affected -%}
    select row_id as delivery_id from ({{ raw_changes(window, 'delivery_delivery') }}) as deliveries_changed
    union
    select deliveries_of_orders.id as delivery_id
    from {{ raw_relation('delivery_delivery') }} as deliveries_of_orders
    where deliveries_of_orders.order_id in (
        select orders_changed.order_id
        from ({{ delta_changed(window, 'int_orders_enriched', ['order_id']) }}) as orders_changed
        union
        select orders_new.order_id
        from {{ upstream_relation('int_orders_to_date') }} as orders_new
        where orders_new.created_date > coalesce(
            (select max(held.order_date) from {{ this }} as held where held.website_id = orders_new.website_id),
            cast('1900-01-01' as date))
    )
    union
    select held.delivery_id
    from {{ this }} as held
    inner join {{ upstream_relation('int_websites_as_of') }} as websites on held.website_id = websites.website_id
    where held.order_date > websites.as_of_date
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

deliveries as (
    select changed.* from {{ ref('stg_deliveries') }} as changed
    where {{ slices_filter(window, {'delivery_id': 'changed.delivery_id'}) }}
),
orders as (select * from {{ ref('int_orders_to_date') }}),

timed as (

    select
        deliveries.delivery_id,
        orders.website_id,
        deliveries.order_id,
        orders.created_date as order_date,
        deliveries.status,
        deliveries.distance_km,
        orders.created_at as order_created_at,
        deliveries.delivered_at,
        case
            when deliveries.status = 'delivered' and deliveries.delivered_at is not null
                then {{ dbt.datediff('orders.created_at', 'deliveries.delivered_at', 'microsecond') }}
        end as delivery_microseconds
    from deliveries
    inner join orders on deliveries.order_id = orders.order_id

),

final as (

    select
        delivery_id,
        website_id,
        order_id,
        order_date,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(distance_km as {{ type_decimal(6, 2) }}) as distance_km,
        order_created_at,
        delivered_at,
        delivery_microseconds,
        cast({{ decimal_div(
            'delivery_microseconds',
            60000000,
            2,
            integers=true
        ) }} as {{ type_decimal(12, 2) }}) as delivery_minutes,
        delivery_microseconds is not null as is_delivered,
        coalesce(delivery_microseconds <= cast(2700000000 as {{ dbt.type_bigint() }}), false) as is_on_time,
        status = 'failed' as is_failed
    from timed

)

select * from final
