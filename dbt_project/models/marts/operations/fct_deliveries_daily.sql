{#- Percentiles interpolate between exact durations (microseconds), rounded once. -#}
{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days of the deliveries int_deliveries_timed changed (before and after the change)
    and the days that joined or left the calendar.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_deliveries_timed', 'orders_order']) -%}
{%- set affected -%}
    select website_id, order_date as business_date
    from ({{ delta_changed(window, 'int_deliveries_timed', ['website_id', 'order_date']) }}) as deliveries_changed
    union
    {{ calendar_changed(ref('int_website_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

days as (
    select changed.* from {{ ref('int_website_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
deliveries as (
    select changed.* from {{ ref('int_deliveries_timed') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.order_date'}) }}
),

delivery_days as (

    select
        website_id,
        order_date as business_date,
        count(*) as deliveries,
        sum(case when is_delivered then 1 else 0 end) as delivered_deliveries,
        sum(case when is_failed then 1 else 0 end) as failed_deliveries,
        sum(case when is_on_time then 1 else 0 end) as on_time_deliveries,
        sum(delivery_minutes) as delivery_minutes_total,
        {{ percentile_cont(0.5, 'delivery_microseconds') }} as median_delivery_microseconds,
        {{ percentile_cont(0.9, 'delivery_microseconds') }} as p90_delivery_microseconds
    from deliveries
    group by website_id, order_date

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(delivery_days.deliveries, 0) as {{ dbt.type_bigint() }}) as deliveries,
        cast(coalesce(delivery_days.delivered_deliveries, 0) as {{ dbt.type_bigint() }}) as delivered_deliveries,
        cast(coalesce(delivery_days.failed_deliveries, 0) as {{ dbt.type_bigint() }}) as failed_deliveries,
        cast(coalesce(delivery_days.on_time_deliveries, 0) as {{ dbt.type_bigint() }}) as on_time_deliveries,
        cast(coalesce(delivery_days.delivery_minutes_total, 0) as {{ type_decimal(18, 2) }}) as delivery_minutes_total,
        cast({{ decimal_div(
            'delivery_days.delivery_minutes_total',
            'delivery_days.delivered_deliveries',
            2
        ) }} as {{ type_decimal(12, 2) }}) as average_delivery_minutes,
        cast(
            round(delivery_days.median_delivery_microseconds / 60000000.0, 2) as {{ type_decimal(12, 2) }}
        ) as median_delivery_minutes,
        cast(
            round(delivery_days.p90_delivery_microseconds / 60000000.0, 2) as {{ type_decimal(12, 2) }}
        ) as p90_delivery_minutes,
        {{ pct('delivery_days.on_time_deliveries', 'delivery_days.delivered_deliveries') }} as on_time_rate
    from days
    left join delivery_days
        on days.website_id = delivery_days.website_id
        and days.business_date = delivery_days.business_date

)

select * from final
