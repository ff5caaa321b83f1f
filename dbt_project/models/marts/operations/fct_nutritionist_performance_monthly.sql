{#-
    Nutritionists per website, nutritionist and month of scheduled_at (METRICS.md, Staff).
    as_of's end is the instant its business day ends in the website's zone
    (int_websites_as_of.as_of_end_at, midnight that starts the next local day): a
    consultation scheduled strictly before it is past and counted by status; one scheduled
    at or after it is upcoming (cancelled ones apart), in the month it falls in. Only
    consultations booked (created_at) before as_of's end are known at as_of.
    A plain table: consultations are a small input, and the rows (nutritionists x months)
    are few; the pipeline skips the model when its inputs did not change.
    `month` is DESIGN.md's column name (a keyword to sqlfluff: RF04 waived on its line).
-#}

with

consultations as (select * from {{ ref('int_consultations_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

known as (

    select
        consultations.website_id,
        consultations.nutritionist_name,
        cast({{ dbt.date_trunc('month', 'consultations.scheduled_date') }} as date) as month,  -- noqa: RF04
        consultations.status,
        consultations.fee,
        consultations.scheduled_at < websites.as_of_end_at as is_past
    from consultations
    inner join websites on consultations.website_id = websites.website_id
    where consultations.created_at < websites.as_of_end_at

),

nutritionist_months as (

    select
        website_id,
        nutritionist_name,
        month,
        sum(case when is_past and status = 'booked' then 1 else 0 end) as booked,
        sum(case when is_past and status = 'completed' then 1 else 0 end) as completed,
        sum(case when is_past and status = 'cancelled' then 1 else 0 end) as cancelled,
        sum(case when is_past and status = 'no_show' then 1 else 0 end) as no_show,
        sum(case when is_past and status = 'completed' then fee else 0 end) as completed_fees,
        sum(case when not is_past and status <> 'cancelled' then 1 else 0 end) as upcoming,
        sum(case when not is_past and status = 'cancelled' then 1 else 0 end) as upcoming_cancelled
    from known
    group by website_id, nutritionist_name, month

),

final as (

    select
        website_id,
        nutritionist_name,
        month,
        cast(booked as {{ dbt.type_bigint() }}) as booked,
        cast(completed as {{ dbt.type_bigint() }}) as completed,
        cast(cancelled as {{ dbt.type_bigint() }}) as cancelled,
        cast(no_show as {{ dbt.type_bigint() }}) as no_show,
        {{ pct('no_show', 'completed + no_show') }} as no_show_rate,
        cast(completed_fees as {{ type_decimal(18, 2) }}) as completed_fees,
        cast(upcoming as {{ dbt.type_bigint() }}) as upcoming,
        cast(upcoming_cancelled as {{ dbt.type_bigint() }}) as upcoming_cancelled
    from nutritionist_months

)

select * from final
