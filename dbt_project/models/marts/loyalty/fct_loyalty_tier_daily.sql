{#-
    Incremental by website and business day (macros/incremental/slices.sql): active_clients
    are running sums per tier of the website's days, so a change on day d changes every
    later day. A run rebuilds, for each website, every day (all tiers) from the first one
    whose tier transitions changed or that joined or left the calendar, from the rows of
    int_loyalty_ledger_days_accumulated that it removed (-1) and added (+1), not from every
    account day: a day's active clients of a tier are the table's old ones at that day
    plus the running signed transitions. A full build is the same computation with no old
    rows and every account day added.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_loyalty_ledger_days_accumulated']) -%}
{%- set transitions_changed -%}
    select
        signed.website_id,
        signed.business_date,
        signed.tier,
        sum(signed.client_change) as client_change
    from (
        select
            moved.website_id,
            moved.business_date,
            moved.active_tier as tier,
            moved._sign as client_change
        from ({{ delta_rows(window, 'int_loyalty_ledger_days_accumulated') }}) as moved
        where moved.active_tier is not null
        union all
        select
            moved.website_id,
            moved.business_date,
            moved.previous_active_tier as tier,
            -moved._sign as client_change
        from ({{ delta_rows(window, 'int_loyalty_ledger_days_accumulated') }}) as moved
        where moved.previous_active_tier is not null
    ) as signed
    group by signed.website_id, signed.business_date, signed.tier
{%- endset -%}
{%- set changed_days -%}
    select transitions.website_id, transitions.business_date
    from ({{ transitions_changed }}) as transitions
    where transitions.client_change <> 0
    union
    {{ calendar_changed(ref('int_loyalty_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- set affected -%}
    {{ days_from_first_changed(changed_days, ref('int_loyalty_days_spined'), this) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

calendar as (select * from {{ ref('int_loyalty_days_spined') }}),
days as (
    select changed.* from {{ ref('int_loyalty_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
account_days as (select * from {{ ref('int_loyalty_ledger_days_accumulated') }}),
tiers as (select * from {{ ref('loyalty_tiers') }}),

{#- The table's rows before this run (the days rebuilt start from them); none in a full
    build. -#}
old_days as (

    {%- if window.mode == 'changes' %}
        select
            kept.website_id,
            kept.business_date,
            kept.tier,
            kept.active_clients
        from {{ this }} as kept
    {%- else %}
        select
            cast(null as {{ dbt.type_bigint() }}) as website_id,
            cast(null as date) as business_date,
            cast(null as {{ dbt.type_string() }}) as tier,
            cast(0 as {{ dbt.type_bigint() }}) as active_clients
        where false
    {%- endif %}

),

{#- An account's state is its tier while active (balance > 0), else none. A change of
    state is -1 for the old tier and +1 for the new one on that day; running those sums
    per tier gives the active clients per tier of every day. In a run by changes, the
    transitions the changes added (-1 for a row removed, +1 for a row added). -#}
tier_flows as (

    {%- if window.mode == 'changes' %}
        {{ transitions_changed }}
    {%- else %}
        select
            website_id,
            business_date,
            tier,
            sum(client_change) as client_change
        from (
            select
                website_id,
                business_date,
                active_tier as tier,
                1 as client_change
            from account_days
            where active_tier is not null
            union all
            select
                website_id,
                business_date,
                previous_active_tier as tier,
                -1 as client_change
            from account_days
            where previous_active_tier is not null
        ) as transitions
        group by website_id, business_date, tier
    {%- endif %}

),

{#- Transitions count from the website's first calendar day, old or new: a row dated before
    the website opened is on no calendar day and counts nowhere. -#}
first_days as (

    select
        website_id,
        min(business_date) as first_date
    from (
        select
            calendar.website_id,
            calendar.business_date
        from calendar
        union all
        select
            old_days.website_id,
            old_days.business_date
        from old_days
    ) as calendars
    group by website_id

),

old_last_days as (

    select
        website_id,
        max(business_date) as last_date
    from old_days
    group by website_id

),

timeline as (

    select
        website_id,
        business_date,
        tier,
        sum(client_change) as client_change
    from (
        select
            tier_flows.website_id,
            tier_flows.business_date,
            tier_flows.tier,
            tier_flows.client_change
        from tier_flows
        inner join first_days
            on tier_flows.website_id = first_days.website_id
            and tier_flows.business_date >= first_days.first_date
        union all
        select
            days.website_id,
            days.business_date,
            tiers.tier,
            0 as client_change
        from days
        cross join tiers
    ) as dated_flows
    group by website_id, business_date, tier

),

running as (

    select
        website_id,
        business_date,
        tier,
        sum(client_change) over (
            partition by website_id, tier
            order by business_date
            rows between unbounded preceding and current row
        ) as client_change
    from timeline

),

{#- A day's active clients of a tier: the old ones at the day (its own row; the last one
    for a day after it; none before the first) plus the running transitions. -#}
tier_days as (

    select
        days.website_id,
        days.business_date,
        tiers.tier,
        tiers.tier_rank,
        tiers.threshold_points,
        coalesce(to_date.active_clients, 0) + running.client_change as active_clients
    from days
    cross join tiers
    inner join running
        on days.website_id = running.website_id
        and days.business_date = running.business_date
        and tiers.tier = running.tier
    left join old_last_days on days.website_id = old_last_days.website_id
    left join old_days as to_date
        on days.website_id = to_date.website_id
        and to_date.business_date = least(days.business_date, old_last_days.last_date)
        and tiers.tier = to_date.tier

),

final as (

    select
        website_id,
        business_date,
        cast(tier as {{ dbt.type_string() }}) as tier,
        cast(tier_rank as {{ dbt.type_int() }}) as tier_rank,
        cast(active_clients as {{ dbt.type_bigint() }}) as active_clients,
        {{ pct('active_clients', 'sum(active_clients) over (partition by website_id, business_date)') }} as percentage,
        cast(threshold_points as {{ dbt.type_int() }}) as threshold
    from tier_days

)

select * from final
