{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days changed consultations are scheduled on (before and after the change) and the
    days that joined or left the calendar (int_operations_days_spined: it starts at the
    first order, confirmation, ticket or consultation, so a consultation scheduled before
    the website's first order keeps its day). Orders and tickets reach this model only
    through the calendar: their changes are mapped by calendar_changed.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=[
    'nutrition_consultation', 'orders_order', 'support_ticket', 'int_orders_enriched',
]) -%}
{%- set affected -%}
    {{ raw_days_changed(window, 'nutrition_consultation', ['scheduled_at']) }}
    union
    {{ calendar_changed(ref('int_operations_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

days as (
    select changed.* from {{ ref('int_operations_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
consultations as (
    select changed.* from {{ ref('int_consultations_dated') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.scheduled_date'}) }}
),

consultation_days as (

    select
        website_id,
        scheduled_date as business_date,
        count(*) as consultations,
        sum(case when status = 'booked' then 1 else 0 end) as booked,
        sum(case when status = 'completed' then 1 else 0 end) as completed,
        sum(case when status = 'no_show' then 1 else 0 end) as no_show,
        sum(case when status = 'cancelled' then 1 else 0 end) as cancelled,
        sum(case when status = 'booked' then fee else 0 end) as booked_fees,
        sum(case when status = 'completed' then fee else 0 end) as completed_fees,
        sum(case when status = 'no_show' then fee else 0 end) as no_show_fees
    from consultations
    group by website_id, scheduled_date

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(consultation_days.consultations, 0) as {{ dbt.type_bigint() }}) as consultations,
        cast(coalesce(consultation_days.booked, 0) as {{ dbt.type_bigint() }}) as booked,
        cast(coalesce(consultation_days.completed, 0) as {{ dbt.type_bigint() }}) as completed,
        cast(coalesce(consultation_days.no_show, 0) as {{ dbt.type_bigint() }}) as no_show,
        cast(coalesce(consultation_days.cancelled, 0) as {{ dbt.type_bigint() }}) as cancelled,
        cast(coalesce(consultation_days.booked_fees, 0) as {{ type_decimal(18, 2) }}) as booked_fees,
        cast(coalesce(consultation_days.completed_fees, 0) as {{ type_decimal(18, 2) }}) as completed_fees,
        cast(coalesce(consultation_days.no_show_fees, 0) as {{ type_decimal(18, 2) }}) as no_show_fees,
        {{ pct(
            'consultation_days.no_show',
            'consultation_days.completed + consultation_days.no_show'
        ) }} as no_show_rate
    from days
    left join consultation_days
        on days.website_id = consultation_days.website_id
        and days.business_date = consultation_days.business_date

)

select * from final
