{#-
    Incremental by website and business day (macros/incremental/slices.sql). A day's
    figures are its account days (int_loyalty_ledger_days_accumulated, the loyalty marts'
    shared per-account change events) and those of the 29 days before it, and the number
    of accounts opened up to it. A run rebuilds the days an account day changed on (its
    entries, redemptions or points redeemed; a change of its running balance alone does
    not count) and the 29 days after each; every day from the first one an account was
    opened, closed or moved on (before and after the change); and the days that joined or
    left the calendar.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_loyalty_ledger_days_accumulated', 'loyalty_loyaltyaccount']) -%}
{%- set activity_changed -%}
    select moved.website_id, moved.business_date
    from ({{ delta_rows(window, 'int_loyalty_ledger_days_accumulated') }}) as moved
    group by
        moved.website_id, moved.loyalty_account_id, moved.business_date,
        moved.ledger_entries, moved.redemptions, moved.points_redeemed
    having sum(moved._sign) <> 0
{%- endset -%}
{%- set accounts_changed -%}
    {{ website_days_of(raw_changed_watched(window, 'loyalty_loyaltyaccount',
        {'website_id': dbt.type_bigint(), 'created_at': type_timestamp_tz()},
        {'website_id': dbt.type_bigint(), 'created_at': type_timestamp_tz()}), ['created_at']) }}
    union
    {{ calendar_changed(ref('int_loyalty_days_spined'), this, ['website_id', 'business_date']) }}
{%- endset -%}
{%- set affected -%}
    select every_day.website_id, every_day.business_date
    from (
        select calendar_days.website_id, calendar_days.business_date
        from {{ ref('int_loyalty_days_spined') }} as calendar_days
        union
        select held.website_id, held.business_date from {{ this }} as held
    ) as every_day
    inner join ({{ activity_changed }}) as changed_days
        on every_day.website_id = changed_days.website_id
        and every_day.business_date >= changed_days.business_date
        and every_day.business_date < {{ dbt.dateadd('day', 30, 'changed_days.business_date') }}
    union
    {{ days_from_first_changed(accounts_changed, ref('int_loyalty_days_spined'), this) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

days as (
    select changed.* from {{ ref('int_loyalty_days_spined') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),
{#- The account days of the 30 days ending on a rebuilt day. -#}
account_days as (
    select changed.* from {{ ref('int_loyalty_ledger_days_accumulated') }} as changed
    where {{ slices_match(window,
        's.website_id = changed.website_id and changed.business_date <= s.business_date and changed.business_date > '
        ~ dbt.dateadd('day', -30, 's.business_date')) }}
),
accounts as (select * from {{ ref('int_loyalty_accounts_dated') }}),

day_activity as (

    select
        days.website_id,
        days.business_date,
        sum(account_days.redemptions) as redemptions,
        sum(account_days.points_redeemed) as points_redeemed,
        sum(case when account_days.ledger_entries > 0 then 1 else 0 end) as clients_with_entries
    from days
    inner join account_days
        on days.website_id = account_days.website_id
        and days.business_date = account_days.business_date
    group by days.website_id, days.business_date

),

{#- The 30 days ending on the day: (day - 30, day]. -#}
window_activity as (

    select
        days.website_id,
        days.business_date,
        count(distinct account_days.loyalty_account_id) as clients_with_entries_30d
    from days
    inner join account_days
        on days.website_id = account_days.website_id
        and days.business_date >= account_days.business_date
        and {{ dbt.dateadd('day', -30, 'days.business_date') }} < account_days.business_date
    where account_days.ledger_entries > 0
    group by days.website_id, days.business_date

),

openings as (

    select
        website_id,
        created_date,
        count(*) as accounts_opened
    from accounts
    group by website_id, created_date

),

accounts_to_date as (

    select
        days.website_id,
        days.business_date,
        sum(openings.accounts_opened) as loyalty_accounts
    from days
    inner join openings
        on days.website_id = openings.website_id
        and days.business_date >= openings.created_date
    group by days.website_id, days.business_date

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(day_activity.redemptions, 0) as {{ dbt.type_bigint() }}) as redemptions,
        cast(coalesce(day_activity.points_redeemed, 0) as {{ dbt.type_bigint() }}) as points_redeemed,
        cast(coalesce(day_activity.clients_with_entries, 0) as {{ dbt.type_bigint() }}) as clients_with_entries,
        cast(
            coalesce(window_activity.clients_with_entries_30d, 0) as {{ dbt.type_bigint() }}
        ) as clients_with_entries_30d,
        cast(coalesce(accounts_to_date.loyalty_accounts, 0) as {{ dbt.type_bigint() }}) as loyalty_accounts,
        {{ pct(
            'coalesce(window_activity.clients_with_entries_30d, 0)',
            'accounts_to_date.loyalty_accounts'
        ) }} as engagement_rate_30d
    from days
    left join day_activity
        on days.website_id = day_activity.website_id
        and days.business_date = day_activity.business_date
    left join window_activity
        on days.website_id = window_activity.website_id
        and days.business_date = window_activity.business_date
    left join accounts_to_date
        on days.website_id = accounts_to_date.website_id
        and days.business_date = accounts_to_date.business_date

)

select * from final
