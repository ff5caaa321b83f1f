{#-
    Support agents per website, assigned agent and month of the ticket's created_at
    (METRICS.md, Staff): tickets opened up to as_of, those resolved by as_of's end, and the
    median first-response and resolution hours (continuous percentiles of the exact
    durations, rounded once). Tickets without an agent keep a row of their own with
    assigned_agent NULL, so the agents' tickets add up to every ticket opened.
    A plain table: tickets are a small input and the rows (agents x months) are few; the
    pipeline skips the model when its inputs did not change.
    `month` is DESIGN.md's column name (a keyword to sqlfluff: RF04 waived on its line).
-#}

with

tickets as (select * from {{ ref('int_support_tickets_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

timed as (

    select
        tickets.website_id,
        tickets.assigned_agent,
        cast({{ dbt.date_trunc('month', 'tickets.created_date') }} as date) as month,  -- noqa: RF04
        case
            when tickets.first_response_at < websites.as_of_end_at
                then {{ dbt.datediff('tickets.created_at', 'tickets.first_response_at', 'microsecond') }}
        end as first_response_microseconds,
        case
            when tickets.resolved_at < websites.as_of_end_at
                then {{ dbt.datediff('tickets.created_at', 'tickets.resolved_at', 'microsecond') }}
        end as resolution_microseconds
    from tickets
    inner join websites on tickets.website_id = websites.website_id
    where tickets.created_date <= websites.as_of_date

),

agent_months as (

    select
        website_id,
        assigned_agent,
        month,
        count(*) as tickets,
        count(resolution_microseconds) as resolved,
        count(first_response_microseconds) as responded,
        {{ percentile_cont(0.5, 'first_response_microseconds') }} as median_first_response_microseconds,
        {{ percentile_cont(0.5, 'resolution_microseconds') }} as median_resolution_microseconds
    from timed
    group by website_id, assigned_agent, month

),

final as (

    select
        website_id,
        assigned_agent,
        month,
        cast(tickets as {{ dbt.type_bigint() }}) as tickets,
        cast(resolved as {{ dbt.type_bigint() }}) as resolved,
        cast(responded as {{ dbt.type_bigint() }}) as responded,
        cast(
            round(median_first_response_microseconds / 3600000000.0, 2) as {{ type_decimal(12, 2) }}
        ) as median_first_response_hours,
        cast(
            round(median_resolution_microseconds / 3600000000.0, 2) as {{ type_decimal(12, 2) }}
        ) as median_resolution_hours
    from agent_months

)

select * from final
