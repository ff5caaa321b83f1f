{#-
    Incremental by website and business day (macros/incremental/slices.sql): active_clients
    are running sums per tier of the website's days, so a run rebuilds, for each website,
    every day (all its tiers) from the first one whose tier transitions changed (days of
    account changes int_loyalty_ledger_days_accumulated removed or added with another
    active_tier or previous_active_tier) or that joined or left the calendar. The rebuilt
    days carry on from the table's own last day before them.
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
        ['active_tier', 'previous_active_tier']) }}
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
tiers as (select * from {{ ref('loyalty_tiers') }}),

{#- An account's state is its tier while active (balance > 0), else none. A change of
    state is -1 for the old tier and +1 for the new one on that day; running those sums
    per tier gives the active clients per tier of every day. -#}
transitions as (

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

),

tier_flows as (

    select
        website_id,
        business_date,
        tier,
        sum(client_change) as client_change
    from transitions
    group by website_id, business_date, tier

),

{#- The running sums before the days rebuilt: the table's last day before them, per tier
    (the days rebuilt are every day of the website from the first changed one on). -#}
carried as (

    {%- if window.mode == 'changes' %}
        select
            kept.website_id,
            kept.tier,
            kept.active_clients
        from {{ this }} as kept
        where not {{ slices_filter(window, {'website_id': 'kept.website_id', 'business_date': 'kept.business_date'}) }}
        qualify row_number() over (partition by kept.website_id, kept.tier order by kept.business_date desc) = 1
    {%- else %}
        select
            cast(null as {{ dbt.type_bigint() }}) as website_id,
            cast(null as {{ dbt.type_string() }}) as tier,
            cast(0 as {{ dbt.type_bigint() }}) as active_clients
        where false
    {%- endif %}

),

tier_days as (

    select
        days.website_id,
        days.business_date,
        tiers.tier,
        tiers.tier_rank,
        tiers.threshold_points,
        coalesce(carried.active_clients, 0) + sum(coalesce(tier_flows.client_change, 0)) over (
            partition by days.website_id, tiers.tier
            order by days.business_date
            rows between unbounded preceding and current row
        ) as active_clients
    from days
    cross join tiers
    left join tier_flows
        on days.website_id = tier_flows.website_id
        and days.business_date = tier_flows.business_date
        and tiers.tier = tier_flows.tier
    left join carried
        on days.website_id = carried.website_id
        and tiers.tier = carried.tier

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
