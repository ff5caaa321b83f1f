{#-
    The kitchen per website, business date and local hour of confirmed_at (METRICS.md,
    Staff, kitchen): as fct_kitchen_daily, one row per hour with at least one confirmation.
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the confirmation days of the orders int_orders_enriched changed (before and after the
    change) and the days as_of moved in or out (as_of_changed: this table is sparse).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched']) -%}
{%- set affected -%}
    {{ kitchen_days_changed(window) }}
    union
    {{ as_of_changed(this, ref('int_orders_prepared'), 'confirmed_date', upstream_relation('int_websites_as_of')) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

prepared as (
    select changed.* from {{ ref('int_orders_prepared') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.confirmed_date'}) }}
),

kitchen_hours as (

    select
        website_id,
        confirmed_date as business_date,
        confirmed_hour as local_hour,
        count(*) as orders_confirmed,
        count(prep_microseconds) as orders_prepared,
        sum(case when prep_microseconds <= 1200000000 then 1 else 0 end) as prepared_within_20_min,
        {{ percentile_cont(0.5, 'prep_microseconds') }} as median_prep_microseconds,
        {{ percentile_cont(0.9, 'prep_microseconds') }} as p90_prep_microseconds
    from prepared
    group by website_id, confirmed_date, confirmed_hour

),

final as (

    select
        website_id,
        business_date,
        local_hour,
        cast(orders_confirmed as {{ dbt.type_bigint() }}) as orders_confirmed,
        cast(orders_prepared as {{ dbt.type_bigint() }}) as orders_prepared,
        cast(prepared_within_20_min as {{ dbt.type_bigint() }}) as prepared_within_20_min,
        cast(round(median_prep_microseconds / 60000000.0, 2) as {{ type_decimal(12, 2) }}) as median_prep_minutes,
        cast(round(p90_prep_microseconds / 60000000.0, 2) as {{ type_decimal(12, 2) }}) as p90_prep_minutes,
        {{ pct('prepared_within_20_min', 'orders_prepared') }} as share_within_20_min
    from kitchen_hours

)

select * from final
