{{ config(materialized='table_macro', parameters=['date_from', 'date_to', 'website := null']) }}

with

points_days as (select * from {{ ref('fct_loyalty_points_daily') }}),
account_days as (select * from {{ ref('fct_loyalty_account_days') }}),
item_days as (select * from {{ ref('fct_redemption_items') }}),

arguments as (

    select
        cast({{ table_macro_arg('date_from') }} as date) as window_start,
        cast({{ table_macro_arg('date_to') }} as date) as window_end,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter

),

websites as (

    select distinct points_days.website_id
    from points_days
    cross join arguments
    where arguments.website_filter is null or points_days.website_id = arguments.website_filter

),

window_points as (

    select
        points_days.website_id,
        sum(points_days.points_issued) as points_issued,
        sum(points_days.points_redeemed) as points_redeemed
    from points_days
    cross join arguments
    where points_days.business_date between arguments.window_start and arguments.window_end
    group by points_days.website_id

),

{#- Each account's state at the end of date_to: its last change on or before it. -#}
states_at_end as (

    select
        account_days.website_id,
        count(case when account_days.is_active then 1 end) as active_clients,
        sum(account_days.points_balance) as points_balance,
        count(case when account_days.is_active and account_days.tier = 'bronze' then 1 end) as bronze_count,
        count(case when account_days.is_active and account_days.tier = 'silver' then 1 end) as silver_count,
        count(case when account_days.is_active and account_days.tier = 'gold' then 1 end) as gold_count,
        count(case when account_days.is_active and account_days.tier = 'platinum' then 1 end) as platinum_count
    from account_days
    cross join arguments
    where account_days.business_date <= arguments.window_end
        and (account_days.next_business_date is null or account_days.next_business_date > arguments.window_end)
    group by account_days.website_id

),

redeeming_clients as (

    select
        account_days.website_id,
        count(distinct account_days.loyalty_account_id) as clients_with_redemptions
    from account_days
    cross join arguments
    where account_days.redemptions > 0
        and account_days.business_date between arguments.window_start and arguments.window_end
    group by account_days.website_id

),

window_items as (

    select
        item_days.website_id,
        item_days.redemption_item_id,
        item_days.item_name,
        sum(item_days.redemption_count) as redemption_count,
        sum(item_days.points_spent) as points_spent
    from item_days
    cross join arguments
    where item_days.business_date between arguments.window_start and arguments.window_end
    group by item_days.website_id, item_days.redemption_item_id, item_days.item_name

),

window_redemptions as (

    select
        website_id,
        sum(redemption_count) as redemptions,
        sum(points_spent) as redemption_points
    from window_items
    group by website_id

),

{#- Ties between equally redeemed items go to the lowest item id (METRICS.md). -#}
most_popular as (

    select
        website_id,
        redemption_item_id,
        item_name,
        row_number() over (
            partition by website_id
            order by redemption_count desc, redemption_item_id asc
        ) as popularity_rank
    from window_items

),

final as (

    select
        websites.website_id as website,
        arguments.window_start as date_from,
        arguments.window_end as date_to,
        cast(coalesce(states_at_end.active_clients, 0) as {{ dbt.type_bigint() }}) as total_active_clients,
        cast(coalesce(window_points.points_issued, 0) as {{ dbt.type_bigint() }}) as total_points_issued,
        cast(coalesce(window_points.points_redeemed, 0) as {{ dbt.type_bigint() }}) as total_points_redeemed,
        cast(coalesce(states_at_end.points_balance, 0) as {{ dbt.type_bigint() }}) as total_points_balance,
        cast(coalesce(window_redemptions.redemptions, 0) as {{ dbt.type_bigint() }}) as total_redemptions,
        cast(coalesce(window_redemptions.redemption_points, 0) as {{ dbt.type_bigint() }}) as total_redemption_value,
        most_popular.redemption_item_id as most_popular_item,
        most_popular.item_name as most_popular_item_name,
        cast(coalesce(states_at_end.bronze_count, 0) as {{ dbt.type_bigint() }}) as bronze_count,
        cast(coalesce(states_at_end.silver_count, 0) as {{ dbt.type_bigint() }}) as silver_count,
        cast(coalesce(states_at_end.gold_count, 0) as {{ dbt.type_bigint() }}) as gold_count,
        cast(coalesce(states_at_end.platinum_count, 0) as {{ dbt.type_bigint() }}) as platinum_count,
        {{ pct(
            'coalesce(redeeming_clients.clients_with_redemptions, 0)',
            'states_at_end.active_clients'
        ) }} as active_redemptions_ratio,
        cast({{ decimal_div(
            'states_at_end.points_balance',
            'states_at_end.active_clients',
            2
        ) }} as {{ type_decimal(18, 2) }}) as average_points_per_client
    from websites
    cross join arguments
    left join window_points on websites.website_id = window_points.website_id
    left join states_at_end on websites.website_id = states_at_end.website_id
    left join redeeming_clients on websites.website_id = redeeming_clients.website_id
    left join window_redemptions on websites.website_id = window_redemptions.website_id
    left join most_popular
        on websites.website_id = most_popular.website_id
        and most_popular.popularity_rank = 1

)

select * from final
