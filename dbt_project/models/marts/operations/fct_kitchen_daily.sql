{#-
    The kitchen per website and business date of confirmed_at (METRICS.md, Staff, kitchen):
    orders confirmed and prepared, median and p90 preparation minutes (confirmed_at ->
    prepared_at, elapsed; continuous percentiles of the exact durations, rounded once) and
    the share prepared within 20 minutes (<= 20).
    Incremental by website and business day (macros/incremental/slices.sql): it grows with
    the history and reads every order, so a run rebuilds the confirmation days of the orders
    int_orders_enriched changed (before and after the change) and the days that joined or
    left the calendar (int_operations_days_spined, shared with the support and consultation
    marts; tickets and consultations reach this model only through it: their changes are
    mapped by calendar_changed).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=[
    'int_orders_enriched', 'orders_order', 'support_ticket', 'nutrition_consultation',
]) -%}
{%- set affected -%}
    {{ kitchen_days_changed(window) }}
    union
    {{ calendar_changed(ref('int_operations_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

days as (
    select changed.* from {{ ref('int_operations_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
prepared as (
    select changed.* from {{ ref('int_orders_prepared') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.confirmed_date'}) }}
),

kitchen_days as (

    select
        website_id,
        confirmed_date as business_date,
        count(*) as orders_confirmed,
        count(prep_microseconds) as orders_prepared,
        sum(case when prep_microseconds <= 1200000000 then 1 else 0 end) as prepared_within_20_min,
        {{ percentile_cont(0.5, 'prep_microseconds') }} as median_prep_microseconds,
        {{ percentile_cont(0.9, 'prep_microseconds') }} as p90_prep_microseconds
    from prepared
    group by website_id, confirmed_date

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(kitchen_days.orders_confirmed, 0) as {{ dbt.type_bigint() }}) as orders_confirmed,
        cast(coalesce(kitchen_days.orders_prepared, 0) as {{ dbt.type_bigint() }}) as orders_prepared,
        cast(coalesce(kitchen_days.prepared_within_20_min, 0) as {{ dbt.type_bigint() }}) as prepared_within_20_min,
        cast(
            round(kitchen_days.median_prep_microseconds / 60000000.0, 2) as {{ type_decimal(12, 2) }}
        ) as median_prep_minutes,
        cast(
            round(kitchen_days.p90_prep_microseconds / 60000000.0, 2) as {{ type_decimal(12, 2) }}
        ) as p90_prep_minutes,
        {{ pct('kitchen_days.prepared_within_20_min', 'kitchen_days.orders_prepared') }} as share_within_20_min
    from days
    left join kitchen_days
        on days.website_id = kitchen_days.website_id
        and days.business_date = kitchen_days.business_date

)

select * from final
