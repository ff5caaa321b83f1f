{#-
    Incremental by delivery (macros/incremental/slices.sql): a run rebuilds the deliveries
    int_deliveries_timed changed.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['delivery_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_deliveries_timed']) -%}
{%- set affected -%}
    {{ delta_changed(window, 'int_deliveries_timed', ['delivery_id']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

deliveries as (
    select changed.* from {{ ref('int_deliveries_timed') }} as changed
    where {{ slices_filter(window, {'delivery_id': 'changed.delivery_id'}) }}
),

final as (

    select
        delivery_id,
        website_id,
        order_id,
        order_date,
        status,
        distance_km,
        order_created_at,
        delivered_at,
        delivery_minutes,
        is_delivered,
        is_on_time,
        is_failed
    from deliveries

)

select * from final
