{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days int_redemptions_enriched removed or added redemptions on (a change, or as_of
    moving, which that model maps to its redemptions).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_redemptions_enriched']) -%}
{%- set affected -%}
    {{ delta_changed(window, 'int_redemptions_enriched', ['website_id', 'business_date']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

redemptions as (
    select changed.* from {{ ref('int_redemptions_enriched') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),

final as (

    select
        website_id,
        business_date,
        local_weekday,
        cast(
            case local_weekday
                when 1 then 'Monday'
                when 2 then 'Tuesday'
                when 3 then 'Wednesday'
                when 4 then 'Thursday'
                when 5 then 'Friday'
                when 6 then 'Saturday'
                when 7 then 'Sunday'
            end as {{ dbt.type_string() }}
        ) as local_weekday_name,
        local_hour,
        cast(count(*) as {{ dbt.type_bigint() }}) as redemption_count,
        cast(sum(points_spent) as {{ dbt.type_bigint() }}) as points_spent
    from redemptions
    group by website_id, business_date, local_weekday, local_hour

)

select * from final
