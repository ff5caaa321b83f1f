{#
    The per-account "change events" of the loyalty ledger: one row per account and
    business date with activity (int_loyalty_account_days_aggregated), carrying the
    account's state at the end of that day (running balance, lifetime earned points,
    tier, active). The state holds until next_business_date, so any date's state is the
    row with business_date <= d < next_business_date: no account x day cross join.
#}
{#-
    Incremental by account and business date (macros/incremental/slices.sql): a day's
    balance, lifetime points and tier are sums of the account's days up to it, so a change
    on day d changes every later day of the account, and the day before it gets another
    next_business_date. A run rebuilds, for each account whose days
    int_loyalty_account_days_aggregated removed or added, its days from the last one
    before the first changed day on, carrying on from the table's own day before those.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['loyalty_account_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_loyalty_account_days_aggregated']) -%}
{%- set affected -%}
    {{ account_days_from_first_changed(
        delta_changed(window, 'int_loyalty_account_days_aggregated', ['loyalty_account_id', 'business_date']),
        ref('int_loyalty_account_days_aggregated'), this) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

account_days as (
    select changed.* from {{ ref('int_loyalty_account_days_aggregated') }} as changed
    where {{ slices_filter(window, {
        'loyalty_account_id': 'changed.loyalty_account_id', 'business_date': 'changed.business_date'}) }}
),
tier_bands as (select * from {{ ref('int_loyalty_tiers_banded') }}),

{#- The state before the days rebuilt: the table's last day before them (every day of the
    account from there on is rebuilt). None in a full build. -#}
carried as (

    {%- if window.mode == 'changes' %}
        select
            kept.loyalty_account_id,
            kept.balance,
            kept.lifetime_earned,
            kept.is_active,
            kept.active_tier
        from {{ this }} as kept
        inner join (
            select rebuilt.loyalty_account_id, min(rebuilt.business_date) as first_day
            from {{ window.slices }} as rebuilt
            group by rebuilt.loyalty_account_id
        ) as firsts
            on kept.loyalty_account_id = firsts.loyalty_account_id
            and kept.business_date < firsts.first_day
        qualify row_number() over (partition by kept.loyalty_account_id order by kept.business_date desc) = 1
    {%- else %}
        select
            cast(null as {{ dbt.type_bigint() }}) as loyalty_account_id,
            cast(0 as {{ dbt.type_bigint() }}) as balance,
            cast(0 as {{ dbt.type_bigint() }}) as lifetime_earned,
            false as is_active,
            cast(null as {{ dbt.type_string() }}) as active_tier
        where false
    {%- endif %}

),

accumulated as (

    select
        account_days.*,
        coalesce(carried.balance, 0) + sum(account_days.points_change) over account_history as balance,
        coalesce(carried.lifetime_earned, 0) + sum(account_days.points_issued) over account_history as lifetime_earned,
        lead(account_days.business_date) over (
            partition by account_days.loyalty_account_id order by account_days.business_date
        ) as next_business_date
    from account_days
    left join carried on account_days.loyalty_account_id = carried.loyalty_account_id
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
        case
            when row_number() over account_order = 1 then carried.active_tier
            else lag(case when tiered.is_active then tiered.tier end) over account_order
        end as previous_active_tier,
        coalesce(
            case
                when row_number() over account_order = 1 then carried.is_active
                else lag(tiered.is_active) over account_order
            end,
            false
        ) as was_active
    from tiered
    left join carried on tiered.loyalty_account_id = carried.loyalty_account_id
    window account_order as (partition by tiered.loyalty_account_id order by tiered.business_date)

)

select * from final
