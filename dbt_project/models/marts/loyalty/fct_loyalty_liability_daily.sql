{#-
    Incremental by website and business day (macros/incremental/slices.sql).
    outstanding_points is fct_loyalty_points_daily's points_balance, computed the same way:
    the running Σ of the accounts' net ledger points (int_loyalty_ledger_days_accumulated)
    from the website's first calendar day, so a change on day d changes every later day. A
    run rebuilds, for each website, every day from the first one whose net points changed
    (the delta's removed and added account days) or that joined or left the calendar,
    carrying on from the table's own balance on the last day before it; and every day of
    a website whose wallet-credit items changed (value_per_point is the items' current
    state, applied to every day: the source keeps no history of items).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_loyalty_ledger_days_accumulated', 'loyalty_redemptionitem']) -%}
{%- set changed_days -%}
    select moved.website_id, moved.business_date
    from ({{ delta_rows(window, 'int_loyalty_ledger_days_accumulated') }}) as moved
    group by moved.website_id, moved.business_date
    having sum(moved._sign * moved.points_change) <> 0
    union
    {{ calendar_changed(ref('int_loyalty_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- set affected -%}
    {{ days_from_first_changed(changed_days, ref('int_loyalty_days_spined'), this) }}
    union
    select every_day.website_id, every_day.business_date
    from (
        select calendar_days.website_id, calendar_days.business_date from {{ ref('int_loyalty_days_spined') }} as calendar_days
        union
        select held.website_id, held.business_date from {{ this }} as held
    ) as every_day
    where every_day.website_id in (
        select items_changed.website_id
        from ({{ raw_changed(window, 'loyalty_redemptionitem', {'website_id': dbt.type_bigint()}) }}) as items_changed
    )
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

calendar as (select * from {{ ref('int_loyalty_days_spined') }}),
days as (
    select changed.* from {{ ref('int_loyalty_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
account_days as (select * from {{ ref('int_loyalty_ledger_days_accumulated') }}),
items as (select * from {{ ref('stg_redemption_items') }}),

{#- The outstanding points at the end of the table's last day before the first day
    rebuilt; none in a full build. -#}
carried as (

    {%- if window.mode == 'changes' %}
        select
            kept.website_id,
            kept.business_date as carried_date,
            kept.outstanding_points
        from {{ this }} as kept
        inner join (
            select rebuilt.website_id, min(rebuilt.business_date) as first_day
            from {{ window.slices }} as rebuilt
            group by rebuilt.website_id
        ) as firsts
            on kept.website_id = firsts.website_id
            and kept.business_date < firsts.first_day
        qualify row_number() over (partition by kept.website_id order by kept.business_date desc) = 1
    {%- else %}
        select
            cast(null as {{ dbt.type_bigint() }}) as website_id,
            cast(null as date) as carried_date,
            cast(0 as {{ dbt.type_bigint() }}) as outstanding_points
        where false
    {%- endif %}

),

first_days as (

    select
        website_id,
        min(business_date) as first_date
    from calendar
    group by website_id

),

{#- Points count from the website's first calendar day (as in fct_loyalty_points_daily:
    an entry dated before the website opened counts nowhere), after the carried day. -#}
bounds as (

    select
        days.website_id,
        max(days.business_date) as last_day,
        coalesce(
            max(carried.carried_date),
            {{ dbt.dateadd('day', -1, 'min(first_days.first_date)') }}
        ) as start_after,
        coalesce(max(carried.outstanding_points), 0) as carried_points
    from days
    inner join first_days on days.website_id = first_days.website_id
    left join carried on days.website_id = carried.website_id
    group by days.website_id

),

point_days as (

    select
        account_days.website_id,
        account_days.business_date,
        sum(account_days.points_change) as points_change
    from account_days
    inner join bounds
        on account_days.website_id = bounds.website_id
        and account_days.business_date > bounds.start_after
        and account_days.business_date <= bounds.last_day
    group by account_days.website_id, account_days.business_date

),

running as (

    select
        website_id,
        business_date,
        sum(points_change) over website_history as points_change
    from (
        select
            website_id,
            business_date,
            sum(points_change) as points_change
        from (
            select
                website_id,
                business_date,
                points_change
            from point_days
            union all
            select
                website_id,
                business_date,
                0 as points_change
            from days
        ) as dated_points
        group by website_id, business_date
    ) as timeline
    window website_history as (
        partition by website_id
        order by business_date
        rows between unbounded preceding and current row
    )

),

{#- What a point is worth: the website's active wallet-credit items, now. -#}
wallet_values as (

    select
        website_id,
        sum(value_amount) as wallet_value,
        sum(points_required) as wallet_points
    from items
    where item_type = 'wallet_credit' and is_active
    group by website_id

),

balances as (

    select
        days.website_id,
        days.business_date,
        bounds.carried_points + running.points_change as outstanding_points
    from days
    inner join bounds on days.website_id = bounds.website_id
    inner join running
        on days.website_id = running.website_id
        and days.business_date = running.business_date

),

final as (

    select
        balances.website_id,
        balances.business_date,
        cast(balances.outstanding_points as {{ dbt.type_bigint() }}) as outstanding_points,
        cast(
            {{ decimal_div('wallet_values.wallet_value', 'wallet_values.wallet_points', 6) }}
            as {{ type_decimal(18, 6) }}
        ) as value_per_point,
        cast(
            {{ decimal_div(
                'balances.outstanding_points * wallet_values.wallet_value', 'wallet_values.wallet_points', 2
            ) }}
            as {{ type_decimal(18, 2) }}
        ) as liability
    from balances
    left join wallet_values on balances.website_id = wallet_values.website_id

)

select * from final
