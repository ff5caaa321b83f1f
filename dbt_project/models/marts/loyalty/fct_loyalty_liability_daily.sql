{#-
    METRICS.md (VIP and loyalty effects): points liability at the end of each business
    date = outstanding points (fct_loyalty_points_daily's points_balance: the running Σ of
    the accounts' net ledger points) x value_per_point (the website's active wallet-credit
    items: Σ value_amount / Σ points_required, NULL without one; their current state,
    applied to every day: the source keeps no history of items).
    Incremental by website and business day (macros/incremental/slices.sql): a run
    rebuilds the days fct_loyalty_points_daily rebuilt with a different row (its delta)
    or that joined or left the calendar, and every day of a website whose redemption
    items changed.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{#- int_loyalty_ledger_days_accumulated is read through the calendar (int_loyalty_days_spined):
    its changes reach this model as fct_loyalty_points_daily's delta and calendar_changed. -#}
{%- set window = slices_window(mapped=['fct_loyalty_points_daily', 'int_loyalty_ledger_days_accumulated', 'loyalty_redemptionitem']) -%}
{%- set affected -%}
    select website_id, business_date
    from ({{ delta_changed(window, 'fct_loyalty_points_daily', ['website_id', 'business_date']) }}) as points_changed
    union
    {{ calendar_changed(ref('int_loyalty_days_spined'), this, ['website_id', 'business_date']) }}
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

points as (
    select changed.* from {{ ref('fct_loyalty_points_daily') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
items as (select * from {{ ref('stg_redemption_items') }}),

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

final as (

    select
        points.website_id,
        points.business_date,
        cast(points.points_balance as {{ dbt.type_bigint() }}) as outstanding_points,
        cast(
            {{ decimal_div('wallet_values.wallet_value', 'wallet_values.wallet_points', 6) }}
            as {{ type_decimal(18, 6) }}
        ) as value_per_point,
        cast(
            {{ decimal_div(
                'points.points_balance * wallet_values.wallet_value', 'wallet_values.wallet_points', 2
            ) }}
            as {{ type_decimal(18, 2) }}
        ) as liability
    from points
    left join wallet_values on points.website_id = wallet_values.website_id

)

select * from final
