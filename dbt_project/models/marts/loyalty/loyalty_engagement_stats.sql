{{ config(materialized='table_macro', parameters=['as_of', 'days := 30', 'website := null']) }}

with

accounts as (select * from {{ ref('dim_loyalty_accounts') }}),
account_days as (select * from {{ ref('fct_loyalty_account_days') }}),

arguments as (

    select
        cast({{ table_macro_arg('as_of') }} as date) as as_of_day,
        cast({{ table_macro_arg('days') }} as {{ dbt.type_int() }}) as window_days,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter

),

clients as (

    select
        accounts.website_id,
        count(*) as total_clients
    from accounts
    cross join arguments
    where accounts.created_date <= arguments.as_of_day
        and (arguments.website_filter is null or accounts.website_id = arguments.website_filter)
    group by accounts.website_id

),

active_at_end as (

    select
        account_days.website_id,
        count(*) as active_clients
    from account_days
    cross join arguments
    where account_days.is_active
        and account_days.business_date <= arguments.as_of_day
        and (account_days.next_business_date is null or account_days.next_business_date > arguments.as_of_day)
    group by account_days.website_id

),

{#- The last N days: (as_of - N, as_of]. -#}
window_activity as (

    select
        account_days.website_id,
        count(
            distinct case when account_days.redemptions > 0 then account_days.loyalty_account_id end
        ) as clients_with_redemptions,
        count(
            distinct case when account_days.ledger_entries > 0 then account_days.loyalty_account_id end
        ) as clients_with_transactions
    from account_days
    cross join arguments
    where account_days.business_date <= arguments.as_of_day
        and account_days.business_date > {{ dbt.dateadd('day', '-arguments.window_days', 'arguments.as_of_day') }}
    group by account_days.website_id

),

final as (

    select
        clients.website_id,
        cast(clients.total_clients as {{ dbt.type_bigint() }}) as total_clients,
        cast(coalesce(active_at_end.active_clients, 0) as {{ dbt.type_bigint() }}) as active_clients,
        cast(
            coalesce(window_activity.clients_with_redemptions, 0) as {{ dbt.type_bigint() }}
        ) as clients_with_redemptions,
        cast(
            coalesce(window_activity.clients_with_transactions, 0) as {{ dbt.type_bigint() }}
        ) as clients_with_transactions,
        {{ pct('coalesce(window_activity.clients_with_transactions, 0)', 'clients.total_clients') }} as engagement_rate,
        {{ pct(
            'coalesce(window_activity.clients_with_redemptions, 0)',
            'active_at_end.active_clients'
        ) }} as redemption_rate
    from clients
    left join active_at_end on clients.website_id = active_at_end.website_id
    left join window_activity on clients.website_id = window_activity.website_id

)

select * from final
