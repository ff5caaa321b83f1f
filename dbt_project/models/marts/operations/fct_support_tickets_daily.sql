{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days changed tickets were opened and resolved on (before and after the change) and
    the days that joined or left the calendar (int_operations_days_spined: it starts at the
    first order, confirmation, ticket or consultation, so a ticket opened before the
    website's first order keeps its day). Orders and consultations reach this model only
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
    'support_ticket', 'orders_order', 'nutrition_consultation', 'int_orders_enriched',
]) -%}
{%- set affected -%}
    {{ raw_days_changed(window, 'support_ticket', ['created_at', 'resolved_at']) }}
    union
    {{ calendar_changed(ref('int_operations_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

days as (
    select changed.* from {{ ref('int_operations_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
tickets as (select * from {{ ref('int_support_tickets_dated') }}),

opened_days as (

    select
        website_id,
        created_date as business_date,
        count(*) as tickets_opened,
        count(first_response_at) as first_responses,
        sum({{ dbt.datediff('created_at', 'first_response_at', 'microsecond') }}) as first_response_microseconds
    from tickets
    where {{ slices_filter(window, {'website_id': 'tickets.website_id', 'business_date': 'tickets.created_date'}) }}
    group by website_id, created_date

),

resolved_days as (

    select
        website_id,
        resolved_date as business_date,
        count(*) as tickets_resolved,
        sum({{ dbt.datediff('created_at', 'resolved_at', 'microsecond') }}) as resolution_microseconds
    from tickets
    where
        resolved_at is not null
        and {{ slices_filter(window, {'website_id': 'tickets.website_id', 'business_date': 'tickets.resolved_date'}) }}
    group by website_id, resolved_date

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(opened_days.tickets_opened, 0) as {{ dbt.type_bigint() }}) as tickets_opened,
        cast(coalesce(resolved_days.tickets_resolved, 0) as {{ dbt.type_bigint() }}) as tickets_resolved,
        cast(coalesce(opened_days.first_responses, 0) as {{ dbt.type_bigint() }}) as first_responses,
        cast(coalesce({{ decimal_div(
            'opened_days.first_response_microseconds',
            3600000000,
            2
        ) }}, 0) as {{ type_decimal(18, 2) }}) as first_response_hours_total,
        cast({{ decimal_div(
            'opened_days.first_response_microseconds',
            'opened_days.first_responses * 3600000000',
            2
        ) }} as {{ type_decimal(12, 2) }}) as average_first_response_hours,
        cast(coalesce({{ decimal_div(
            'resolved_days.resolution_microseconds',
            3600000000,
            2
        ) }}, 0) as {{ type_decimal(18, 2) }}) as resolution_hours_total,
        cast({{ decimal_div(
            'resolved_days.resolution_microseconds',
            'resolved_days.tickets_resolved * 3600000000',
            2
        ) }} as {{ type_decimal(12, 2) }}) as average_resolution_hours
    from days
    left join opened_days
        on days.website_id = opened_days.website_id
        and days.business_date = opened_days.business_date
    left join resolved_days
        on days.website_id = resolved_days.website_id
        and days.business_date = resolved_days.business_date

)

select * from final
