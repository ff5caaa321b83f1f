{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days of the events that changed, before and after the change: money movements
    (int_payments_netted), rewarded referrals and redemptions (and all of a customer's or
    an account's when it moved website); the days that joined or left the calendar; and
    the days as_of moved (event days after the last day held, days held after as_of; the
    view's days are read after the earliest last day held, a constant DuckDB pushes into
    the view's scans: held_through).
    int_channel_events_unioned stays a view: this mart is its one reader, and reads only
    the affected days of it.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=[
    'int_payments_netted', 'referrals_referral', 'accounts_user', 'loyalty_redemption',
    'loyalty_loyaltyaccount', 'orders_order']) -%}
{%- set events_held -%}
    (
        select events_held.website_id, events_held.business_date
        from {{ ref('int_channel_events_unioned') }} as events_held
        inner join {{ ref('int_websites_as_of') }} as websites_held on events_held.website_id = websites_held.website_id
        where
            events_held.business_date <= websites_held.as_of_date
            and events_held.business_date > cast('{{ held_through(window, this, ref('int_websites_as_of')) }}' as date)
    )
{%- endset -%}
{%- set affected -%}
    select website_id, business_date
    from ({{ delta_changed(window, 'int_payments_netted', ['website_id', 'business_date']) }}) as money_changed
    union
    {{ child_days_changed(window, 'referrals_referral', 'accounts_user', 'referrer_id', ['rewarded_at']) }}
    union
    {{ child_days_changed(window, 'loyalty_redemption', 'loyalty_loyaltyaccount', 'account_id', ['created_at']) }}
    union
    {{ calendar_changed(ref('int_website_days_spined'), this, ['website_id', 'business_date']) }}
    union
    {{ as_of_changed(this, events_held, 'business_date', ref('int_websites_as_of')) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

days as (
    select changed.* from {{ ref('int_website_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
websites as (select * from {{ ref('int_websites_as_of') }}),
events as (
    select changed.* from {{ ref('int_channel_events_unioned') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
channels as (select * from {{ ref('revenue_channels') }}),

events_to_date as (

    select events.*
    from events
    inner join websites on events.website_id = websites.website_id
    where events.business_date <= websites.as_of_date

),

{#- The daily calendar, plus any earlier day with an event (e.g. a VIP upgrade bought before the first order). -#}
calendar as (

    select
        website_id,
        business_date
    from days
    union
    select
        website_id,
        business_date
    from events_to_date

),

event_days as (

    select
        website_id,
        business_date,
        channel,
        sum(amount) as amount,
        sum(transaction_count) as transaction_count
    from events_to_date
    group by website_id, business_date, channel

),

final as (

    select
        calendar.website_id,
        calendar.business_date,
        cast(channels.channel as {{ dbt.type_string() }}) as channel,
        cast(channels.kind as {{ dbt.type_string() }}) as kind,
        cast(coalesce(event_days.amount, 0) as {{ type_decimal(18, 2) }}) as amount,
        cast(coalesce(event_days.transaction_count, 0) as {{ dbt.type_bigint() }}) as transaction_count
    from calendar
    cross join channels
    left join event_days
        on calendar.website_id = event_days.website_id
        and calendar.business_date = event_days.business_date
        and channels.channel = event_days.channel

)

select * from final
