{#
    The per-account "change events" of the loyalty ledger: one row per account and
    business date with activity (int_loyalty_account_days_aggregated), carrying the
    account's state at the end of that day (running balance, lifetime earned points,
    tier, active). The state holds until next_business_date, so any date's state is the
    row with business_date <= d < next_business_date: no account x day cross join.
#}
{#-
    Incremental by account (macros/incremental/slices.sql): a run rebuilds every day of the
    accounts whose days int_loyalty_account_days_aggregated removed or added, since a day's
    balance, lifetime points and tier are the sums of the account's days before it (a
    change on day d changes every later day of the account) and its neighbours give
    next_business_date, previous_active_tier and was_active.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['loyalty_account_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_loyalty_account_days_aggregated']) -%}
{%- set affected -%}
    {{ delta_changed(window, 'int_loyalty_account_days_aggregated', ['loyalty_account_id']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

account_days as (
    select changed.* from {{ ref('int_loyalty_account_days_aggregated') }} as changed
    where {{ slices_filter(window, {'loyalty_account_id': 'changed.loyalty_account_id'}) }}
),
tier_bands as (select * from {{ ref('int_loyalty_tiers_banded') }}),

accumulated as (

    select
        account_days.*,
        sum(account_days.points_change) over account_history as balance,
        sum(account_days.points_issued) over account_history as lifetime_earned,
        lead(account_days.business_date) over (
            partition by account_days.loyalty_account_id order by account_days.business_date
        ) as next_business_date
    from account_days
    window account_history as (
        partition by account_days.loyalty_account_id
        order by account_days.business_date
        rows between unbounded preceding and current row
    )

),

tiered as (

    select
        accumulated.*,
        tier_bands.tier,
        tier_bands.tier_rank,
        accumulated.balance > 0 as is_active
    from accumulated
    left join tier_bands
        on accumulated.lifetime_earned >= tier_bands.threshold_points
        and (tier_bands.next_threshold_points is null or accumulated.lifetime_earned < tier_bands.next_threshold_points)

),

final as (

    select
        tiered.*,
        case when tiered.is_active then tiered.tier end as active_tier,
        lag(case when tiered.is_active then tiered.tier end) over (
            partition by tiered.loyalty_account_id order by tiered.business_date
        ) as previous_active_tier,
        coalesce(lag(tiered.is_active) over (
            partition by tiered.loyalty_account_id order by tiered.business_date
        ), false) as was_active
    from tiered

)

select * from final
