{{ config(materialized='table_macro', parameters=['date_from', 'date_to', 'website := null']) }}

with

wallet_days as (select * from {{ ref('fct_wallet_conversions') }}),
item_days as (select * from {{ ref('fct_redemption_items') }}),

arguments as (

    select
        cast({{ table_macro_arg('date_from') }} as date) as window_start,
        cast({{ table_macro_arg('date_to') }} as date) as window_end,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter

),

all_redemptions as (

    select
        item_days.website_id,
        sum(item_days.redemption_count) as redemption_count,
        sum(item_days.points_spent) as points_spent
    from item_days
    cross join arguments
    where item_days.business_date between arguments.window_start and arguments.window_end
        and (arguments.website_filter is null or item_days.website_id = arguments.website_filter)
    group by item_days.website_id

),

wallet as (

    select
        wallet_days.website_id,
        sum(wallet_days.redemption_count) as redemption_count,
        sum(wallet_days.points_spent) as points_spent,
        sum(wallet_days.value_amount) as value_amount
    from wallet_days
    cross join arguments
    where wallet_days.business_date between arguments.window_start and arguments.window_end
    group by wallet_days.website_id

),

final as (

    select
        all_redemptions.website_id,
        cast(coalesce(wallet.redemption_count, 0) as {{ dbt.type_bigint() }}) as wallet_redemptions,
        cast(coalesce(wallet.points_spent, 0) as {{ dbt.type_bigint() }}) as points_converted,
        cast(coalesce(wallet.value_amount, 0) as {{ type_decimal(18, 2) }}) as wallet_credit_amount,
        {{ pct('coalesce(wallet.points_spent, 0)', 'all_redemptions.points_spent') }} as conversion_rate,
        {{ pct('coalesce(wallet.redemption_count, 0)', 'all_redemptions.redemption_count') }} as share_of_redemptions
    from all_redemptions
    left join wallet on all_redemptions.website_id = wallet.website_id

)

select * from final
