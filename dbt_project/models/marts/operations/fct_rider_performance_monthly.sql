{#-
    Riders per website, rider and month of the order's business date (METRICS.md, Staff):
    deliveries, delivered, failed, failure rate over finished deliveries (an assigned or
    picked-up delivery is neither), median and p90 minutes (continuous percentiles of the
    exact durations, rounded once) and the on-time rate (<= 45 minutes) of the delivered.
    Incremental by website and month (macros/incremental/slices.sql): it grows with the
    history and reads every delivery, so a run rebuilds the months of the deliveries
    int_deliveries_timed changed (before and after the change; as_of moving in or out
    changes it too) and of the deliveries whose raw row changed (a new rider name).
    `month` is DESIGN.md's column name (a keyword to sqlfluff: RF04 waived on its line).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'month'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_deliveries_timed', 'delivery_delivery']) -%}
{%- set affected -%}
    select
        timed_changed.website_id,
        cast({{ dbt.date_trunc('month', 'timed_changed.order_date') }} as date) as month
    from ({{ delta_changed(window, 'int_deliveries_timed', ['website_id', 'order_date']) }}) as timed_changed
    union
    select
        timed_now.website_id,
        cast({{ dbt.date_trunc('month', 'timed_now.order_date') }} as date) as month
    from {{ upstream_relation('int_deliveries_timed') }} as timed_now
    where timed_now.delivery_id in (
        select raw_deliveries.row_id from ({{ raw_changes(window, 'delivery_delivery') }}) as raw_deliveries
    )
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

timed as (
    select
        changed.*,
        cast({{ dbt.date_trunc('month', 'changed.order_date') }} as date) as month  -- noqa: RF04
    from {{ ref('int_deliveries_timed') }} as changed
    where {{ slices_filter(window, {
        'website_id': 'changed.website_id',
        'month': 'cast(' ~ dbt.date_trunc('month', 'changed.order_date') ~ ' as date)',
    }) }}
),
deliveries as (select * from {{ ref('stg_deliveries') }}),

ridden as (

    select
        timed.website_id,
        deliveries.rider_name,
        timed.month,
        timed.delivery_microseconds,
        timed.is_delivered,
        timed.is_failed,
        timed.is_on_time
    from timed
    inner join deliveries on timed.delivery_id = deliveries.delivery_id

),

rider_months as (

    select
        website_id,
        rider_name,
        month,
        count(*) as deliveries,
        sum(case when is_delivered then 1 else 0 end) as delivered,
        sum(case when is_failed then 1 else 0 end) as failed,
        sum(case when is_on_time then 1 else 0 end) as on_time,
        {{ percentile_cont(0.5, 'delivery_microseconds') }} as median_microseconds,
        {{ percentile_cont(0.9, 'delivery_microseconds') }} as p90_microseconds
    from ridden
    group by website_id, rider_name, month

),

final as (

    select
        website_id,
        rider_name,
        month,
        cast(deliveries as {{ dbt.type_bigint() }}) as deliveries,
        cast(delivered as {{ dbt.type_bigint() }}) as delivered,
        cast(failed as {{ dbt.type_bigint() }}) as failed,
        cast(on_time as {{ dbt.type_bigint() }}) as on_time,
        {{ pct('failed', 'delivered + failed') }} as failure_rate,
        cast(round(median_microseconds / 60000000.0, 2) as {{ type_decimal(12, 2) }}) as median_minutes,
        cast(round(p90_microseconds / 60000000.0, 2) as {{ type_decimal(12, 2) }}) as p90_minutes,
        {{ pct('on_time', 'delivered') }} as on_time_rate
    from rider_months

)

select * from final
