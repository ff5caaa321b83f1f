{#
    Per user (every user, joined by as_of or not): the customer figures that sum or bound
    their history up to as_of (each order, payment or ledger entry up to its website's
    as_of date): delivered orders (count, Σ total, first and last), the money paid minus
    refunds (lifetime value), the loyalty points earned and redeemed; and the as_of dates
    for which these figures hold, [as_of_valid_from, as_of_valid_to): from the date of the
    last counted event up to that of the first event still ahead (NULL: unbounded).
    int_customers_aggregated and dim_customers add what moves with as_of alone (as_of_date,
    days since, churn, lifecycle) at every run, cheaply, from these rows.
#}
{#-
    Incremental by customer (macros/incremental/slices.sql): a run rebuilds the customers
    whose website or join date, orders, payments or refunds (their rows in
    int_orders_enriched and int_payments_netted), loyalty entries, or loyalty accounts'
    holder or website changed (before and after the change), and those whose website's
    as_of left the dates their row holds for. A customer
    with an event of another website than their own (whose as_of is not theirs) holds for
    no other as_of: rebuilt at every run.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['user_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=[
    'accounts_user', 'loyalty_loyaltyaccount', 'loyalty_loyaltytransaction',
    'int_orders_enriched', 'int_payments_netted']) -%}
{%- set affected -%}
    select id as user_id
    from ({{ raw_changed_watched(window, 'accounts_user', {'id': dbt.type_bigint()},
        {'website_id': dbt.type_bigint(), 'date_joined': type_timestamp_tz()}) }}) as users_changed
    union
    select user_id
    from ({{ delta_net_changed(window, 'int_orders_enriched',
        ['user_id', 'website_id', 'status', 'total', 'created_at', 'created_date']) }}) as orders_changed
    union
    select user_id
    from ({{ delta_net_changed(window, 'int_payments_netted',
        ['user_id', 'website_id', 'business_date', 'amount']) }}) as money_changed
    union
    {{ raw_changed_watched(window, 'loyalty_loyaltyaccount', {'user_id': dbt.type_bigint()},
        {'user_id': dbt.type_bigint(), 'website_id': dbt.type_bigint()}) }}
    union
    select accounts.user_id
    from {{ raw_relation('loyalty_loyaltyaccount') }} as accounts
    where accounts.id in (
        select entries_changed.account_id
        from ({{ raw_changed(window, 'loyalty_loyaltytransaction', {'account_id': dbt.type_bigint()}) }}) as entries_changed
    )
    union
    select held.user_id
    from {{ this }} as held
    left join {{ ref('int_websites_as_of') }} as websites on held.website_id = websites.website_id
    where websites.as_of_date is null
        or websites.as_of_date < held.as_of_valid_from
        or websites.as_of_date >= held.as_of_valid_to
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

{# Users and ledger entries are dated here, as int_users_dated and
    int_loyalty_transactions_dated date them, after the filter: those views compute the
    business date of every row (a time zone conversion each) before a filter applies. #}
users_changed as (
    select * from {{ ref('stg_users') }} as changed  -- noqa: AL05
    where {{ slices_filter(window, {'user_id': 'changed.user_id'}) }}
),
users as (
    {{ with_business_dates('users_changed', ['joined_at']) }}
),
websites as (select * from {{ ref('int_websites_as_of') }}),
orders as (
    select * from {{ ref('int_orders_enriched') }} as changed  -- noqa: AL05
    where {{ slices_filter(window, {'user_id': 'changed.user_id'}) }}
),
money as (
    select * from {{ ref('int_payments_netted') }} as changed  -- noqa: AL05
    where {{ slices_filter(window, {'user_id': 'changed.user_id'}) }}
),
loyalty_accounts as (
    select * from {{ ref('stg_loyalty_accounts') }} as changed  -- noqa: AL05
    where {{ slices_filter(window, {'user_id': 'changed.user_id'}) }}
),
ledger_entries as (select * from {{ ref('stg_loyalty_transactions') }}),

{#- An entry's website and holder are its loyalty account's; an entry without an account
    has neither and counts nowhere. -#}
located_entries as (

    select
        ledger_entries.loyalty_transaction_id,
        ledger_entries.points,
        ledger_entries.transaction_type,
        ledger_entries.created_at,
        loyalty_accounts.website_id,
        loyalty_accounts.user_id
    from ledger_entries
    inner join loyalty_accounts on ledger_entries.loyalty_account_id = loyalty_accounts.loyalty_account_id

),

ledger as (
    {{ with_business_dates('located_entries', ['created_at']) }}
),

{#- Each event with whether it counts at its website's as_of (orders, payments and ledger
    entries of an unknown website never count). -#}
delivered as (

    select
        orders.user_id,
        orders.website_id,
        orders.total,
        orders.created_at,
        orders.created_date as event_date,
        orders.created_date <= websites.as_of_date as is_to_date
    from orders
    inner join websites on orders.website_id = websites.website_id
    where orders.status = 'delivered'

),

paid as (

    select
        money.user_id,
        money.website_id,
        money.amount,
        money.business_date as event_date,
        money.business_date <= websites.as_of_date as is_to_date
    from money
    inner join websites on money.website_id = websites.website_id

),

entries as (

    select
        ledger.user_id,
        ledger.website_id,
        ledger.points,
        ledger.transaction_type,
        ledger.created_date as event_date,
        ledger.created_date <= websites.as_of_date as is_to_date
    from ledger
    inner join websites on ledger.website_id = websites.website_id

),

delivered_totals as (

    select
        user_id,
        count(case when is_to_date then 1 end) as total_orders,
        sum(case when is_to_date then total end) as total_spent,
        min(case when is_to_date then created_at end) as first_order_at,
        max(case when is_to_date then created_at end) as last_order_at,
        min(case when is_to_date then event_date end) as first_order_date,
        max(case when is_to_date then event_date end) as last_order_date,
        max(case when is_to_date then event_date end) as counted_through,
        min(case when not is_to_date then event_date end) as next_event_date,
        min(website_id) as min_website_id,
        max(website_id) as max_website_id
    from delivered
    group by user_id

),

paid_totals as (

    select
        user_id,
        sum(case when is_to_date then amount end) as lifetime_value,
        max(case when is_to_date then event_date end) as counted_through,
        min(case when not is_to_date then event_date end) as next_event_date,
        min(website_id) as min_website_id,
        max(website_id) as max_website_id
    from paid
    group by user_id

),

points as (

    select
        user_id,
        sum(case when is_to_date then (case when points > 0 then points else 0 end) end) as points_earned,
        sum(case when is_to_date then (case when transaction_type = 'redeem' then -points else 0 end) end)
            as points_redeemed,
        max(case when is_to_date then event_date end) as counted_through,
        min(case when not is_to_date then event_date end) as next_event_date,
        min(website_id) as min_website_id,
        max(website_id) as max_website_id
    from entries
    group by user_id

),

tallied as (

    select
        users.user_id,
        users.website_id,
        users.joined_date,
        websites.as_of_date,
        delivered_totals.total_orders,
        delivered_totals.total_spent,
        delivered_totals.first_order_at,
        delivered_totals.last_order_at,
        delivered_totals.first_order_date,
        delivered_totals.last_order_date,
        paid_totals.lifetime_value,
        points.points_earned as loyalty_points_earned,
        points.points_redeemed as loyalty_points_redeemed,
        greatest(
            delivered_totals.counted_through, paid_totals.counted_through, points.counted_through
        ) as counted_through,
        least(
            delivered_totals.next_event_date, paid_totals.next_event_date, points.next_event_date
        ) as next_event_date,
        (
            delivered_totals.user_id is not null and (
                delivered_totals.min_website_id is distinct from users.website_id
                or delivered_totals.max_website_id is distinct from users.website_id
            )
        ) or (
            paid_totals.user_id is not null and (
                paid_totals.min_website_id is distinct from users.website_id
                or paid_totals.max_website_id is distinct from users.website_id
            )
        ) or (
            points.user_id is not null and (
                points.min_website_id is distinct from users.website_id
                or points.max_website_id is distinct from users.website_id
            )
        ) as has_foreign_events
    from users
    left join websites on users.website_id = websites.website_id
    left join delivered_totals on users.user_id = delivered_totals.user_id
    left join paid_totals on users.user_id = paid_totals.user_id
    left join points on users.user_id = points.user_id

),

final as (

    select
        user_id,
        website_id,
        joined_date,
        total_orders,
        total_spent,
        first_order_at,
        last_order_at,
        first_order_date,
        last_order_date,
        lifetime_value,
        loyalty_points_earned,
        loyalty_points_redeemed,
        {#- Events of another website: the interval is empty ([as_of, as_of)). -#}
        case when has_foreign_events then as_of_date else counted_through end as as_of_valid_from,
        case when has_foreign_events then as_of_date else next_event_date end as as_of_valid_to
    from tallied

)

select * from final
