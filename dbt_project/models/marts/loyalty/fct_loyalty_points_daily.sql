{#-
    Incremental by website and business day (macros/incremental/slices.sql): points_balance
    and active_clients are running sums of the website's days, so a change on day d
    changes every later day. A run rebuilds, for each website, every day from the first
    one whose flows changed or that joined or left the calendar, from the rows of
    int_loyalty_ledger_days_accumulated that it removed (-1) and added (+1), not from every
    account day: a day's flows are its old ones plus the signed sums of that day, its
    running sums the table's old ones at that day plus the running signed sums. A full
    build is the same computation with no old rows and every account day added.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_loyalty_ledger_days_accumulated']) -%}
{%- set flows_changed -%}
    select
        moved.website_id,
        moved.business_date,
        sum(moved._sign * moved.points_issued) as points_issued,
        sum(moved._sign * moved.points_redeemed) as points_redeemed,
        sum(moved._sign * moved.points_expired) as points_expired,
        sum(moved._sign * moved.points_change) as points_change,
        sum(
            moved._sign * (
                case when moved.is_active then 1 else 0 end
                - case when moved.was_active then 1 else 0 end
            )
        ) as active_change
    from ({{ delta_rows(window, 'int_loyalty_ledger_days_accumulated') }}) as moved
    group by moved.website_id, moved.business_date
{%- endset -%}
{%- set changed_days -%}
    select flows.website_id, flows.business_date
    from ({{ flows_changed }}) as flows
    where flows.points_issued <> 0 or flows.points_redeemed <> 0 or flows.points_expired <> 0
        or flows.points_change <> 0 or flows.active_change <> 0
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

{#- The table's rows before this run (the days rebuilt start from them); none in a full
    build. -#}
old_days as (

    {%- if window.mode == 'changes' %}
        select
            kept.website_id,
            kept.business_date,
            kept.points_issued,
            kept.points_redeemed,
            kept.points_expired,
            kept.points_balance,
            kept.active_clients
        from {{ this }} as kept
    {%- else %}
        select
            cast(null as {{ dbt.type_bigint() }}) as website_id,
            cast(null as date) as business_date,
            cast(0 as {{ dbt.type_bigint() }}) as points_issued,
            cast(0 as {{ dbt.type_bigint() }}) as points_redeemed,
            cast(0 as {{ dbt.type_bigint() }}) as points_expired,
            cast(0 as {{ dbt.type_bigint() }}) as points_balance,
            cast(0 as {{ dbt.type_bigint() }}) as active_clients
        where false
    {%- endif %}

),

{#- The flows of each website day: in a full build, of its accounts' days; in a run by
    changes, what the changes added to them. An account enters the active count the day
    its balance turns positive and leaves it the day it drops to zero or below: summing
    those +1/-1 per day and running the sum gives the active clients of every day
    without an account x day join. -#}
website_flows as (

    {%- if window.mode == 'changes' %}
        {{ flows_changed }}
    {%- else %}
        select
            website_id,
            business_date,
            sum(points_issued) as points_issued,
            sum(points_redeemed) as points_redeemed,
            sum(points_expired) as points_expired,
            sum(points_change) as points_change,
            sum(
                case when is_active then 1 else 0 end
                - case when was_active then 1 else 0 end
            ) as active_change
        from account_days
        group by website_id, business_date
    {%- endif %}

),

{#- Flows count from the website's first calendar day, old or new: a row dated before the
    website opened is on no calendar day and counts nowhere. -#}
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
        sum(points_change) as points_change,
        sum(active_change) as active_change
    from (
        select
            website_flows.website_id,
            website_flows.business_date,
            website_flows.points_change,
            website_flows.active_change
        from website_flows
        inner join first_days
            on website_flows.website_id = first_days.website_id
            and website_flows.business_date >= first_days.first_date
        union all
        select
            days.website_id,
            days.business_date,
            0 as points_change,
            0 as active_change
        from days
    ) as dated_flows
    group by website_id, business_date

),

running as (

    select
        website_id,
        business_date,
        sum(points_change) over website_history as points_change,
        sum(active_change) over website_history as active_change
    from timeline
    window website_history as (
        partition by website_id
        order by business_date
        rows between unbounded preceding and current row
    )

),

{#- A day's flows are its old ones plus the flows; its running sums the old ones at the
    day (its own row; the last one for a day after it; none before the first) plus the
    running flows. -#}
final as (

    select
        days.website_id,
        days.business_date,
        cast(
            coalesce(same_day.points_issued, 0) + coalesce(website_flows.points_issued, 0) as {{ dbt.type_bigint() }}
        ) as points_issued,
        cast(
            coalesce(same_day.points_redeemed, 0) + coalesce(website_flows.points_redeemed, 0)
            as {{ dbt.type_bigint() }}
        ) as points_redeemed,
        cast(
            coalesce(same_day.points_expired, 0) + coalesce(website_flows.points_expired, 0)
            as {{ dbt.type_bigint() }}
        ) as points_expired,
        cast(coalesce(to_date.points_balance, 0) + running.points_change as {{ dbt.type_bigint() }}) as points_balance,
        cast(coalesce(to_date.active_clients, 0) + running.active_change as {{ dbt.type_bigint() }}) as active_clients
    from days
    inner join running
        on days.website_id = running.website_id
        and days.business_date = running.business_date
    left join website_flows
        on days.website_id = website_flows.website_id
        and days.business_date = website_flows.business_date
    left join old_days as same_day
        on days.website_id = same_day.website_id
        and days.business_date = same_day.business_date
    left join old_last_days on days.website_id = old_last_days.website_id
    left join old_days as to_date
        on days.website_id = to_date.website_id
        and to_date.business_date = least(days.business_date, old_last_days.last_date)

)

select * from final
