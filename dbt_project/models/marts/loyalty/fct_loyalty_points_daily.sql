{#-
    Incremental by website and business day (macros/incremental/slices.sql): points_balance
    and active_clients are running sums of the website's days, so a run rebuilds, for each
    website, every day from the first one whose flows changed (days of account changes
    int_loyalty_ledger_days_accumulated removed or added with other flows or activity, not
    a new next_business_date only) or that joined or left the calendar. The rebuilt days
    carry on from the table's own last day before them.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_loyalty_ledger_days_accumulated']) -%}
{%- set changed_days -%}
    {{ delta_changed_columns(window, 'int_loyalty_ledger_days_accumulated', ['website_id', 'business_date'],
        ['points_issued', 'points_redeemed', 'points_expired', 'points_change', 'is_active', 'was_active']) }}
    union
    {{ calendar_changed(ref('int_loyalty_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- set affected -%}
    {{ days_from_first_changed(changed_days, ref('int_loyalty_days_spined'), this) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

days as (
    select changed.* from {{ ref('int_loyalty_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
account_days as (
    select changed.* from {{ ref('int_loyalty_ledger_days_accumulated') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),

{#- An account enters the active count the day its balance turns positive and leaves it
    the day it drops to zero or below: summing those +1/-1 per day and running the sum
    gives the active clients of every day without an account x day join. -#}
website_flows as (

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

),

{#- The running sums before the days rebuilt: the table's last day before them (the days
    rebuilt are every day of the website from the first changed one on). -#}
carried as (

    {%- if window.mode == 'changes' %}
        select
            kept.website_id,
            kept.points_balance,
            kept.active_clients
        from {{ this }} as kept
        where not {{ slices_filter(window, {'website_id': 'kept.website_id', 'business_date': 'kept.business_date'}) }}
        qualify row_number() over (partition by kept.website_id order by kept.business_date desc) = 1
    {%- else %}
        select
            cast(null as {{ dbt.type_bigint() }}) as website_id,
            cast(0 as {{ dbt.type_bigint() }}) as points_balance,
            cast(0 as {{ dbt.type_bigint() }}) as active_clients
        where false
    {%- endif %}

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(website_flows.points_issued, 0) as {{ dbt.type_bigint() }}) as points_issued,
        cast(coalesce(website_flows.points_redeemed, 0) as {{ dbt.type_bigint() }}) as points_redeemed,
        cast(coalesce(website_flows.points_expired, 0) as {{ dbt.type_bigint() }}) as points_expired,
        cast(
            coalesce(carried.points_balance, 0)
            + sum(coalesce(website_flows.points_change, 0)) over website_history as {{ dbt.type_bigint() }}
        ) as points_balance,
        cast(
            coalesce(carried.active_clients, 0)
            + sum(coalesce(website_flows.active_change, 0)) over website_history as {{ dbt.type_bigint() }}
        ) as active_clients
    from days
    left join website_flows
        on days.website_id = website_flows.website_id
        and days.business_date = website_flows.business_date
    left join carried on days.website_id = carried.website_id
    window website_history as (
        partition by days.website_id
        order by days.business_date
        rows between unbounded preceding and current row
    )

)

select * from final
