{{ config(materialized='table_macro', parameters=['date_to', 'days := 30', 'website := null']) }}

with

points_days as (select * from {{ ref('fct_loyalty_points_daily') }}),

arguments as (

    select
        cast({{ table_macro_arg('date_to') }} as date) as window_end,
        cast({{ table_macro_arg('days') }} as {{ dbt.type_int() }}) as window_days,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter

),

final as (

    select
        points_days.website_id,
        points_days.business_date as {{ adapter.quote('date') }},
        points_days.points_issued as issued,
        points_days.points_redeemed as redeemed,
        points_days.points_expired as expired,
        points_days.points_balance as balance,
        points_days.active_clients
    from points_days
    cross join arguments
    where points_days.business_date <= arguments.window_end
        and points_days.business_date > {{ dbt.dateadd('day', '-arguments.window_days', 'arguments.window_end') }}
        and (arguments.website_filter is null or points_days.website_id = arguments.website_filter)

)

select * from final
