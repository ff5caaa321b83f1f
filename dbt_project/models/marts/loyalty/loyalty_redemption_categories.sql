{{ config(materialized='table_macro', parameters=['date_from', 'date_to', 'website := null']) }}

with

category_days as (select * from {{ ref('fct_redemption_categories') }}),

arguments as (

    select
        cast({{ table_macro_arg('date_from') }} as date) as window_start,
        cast({{ table_macro_arg('date_to') }} as date) as window_end,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter

),

category_totals as (

    select
        category_days.website_id,
        category_days.category,
        sum(category_days.redemption_count) as redemption_count,
        sum(category_days.points_spent) as points_spent,
        sum(category_days.value_amount) as value_amount
    from category_days
    cross join arguments
    where category_days.business_date between arguments.window_start and arguments.window_end
        and (arguments.website_filter is null or category_days.website_id = arguments.website_filter)
    group by category_days.website_id, category_days.category

),

final as (

    select
        website_id,
        category,
        cast(redemption_count as {{ dbt.type_bigint() }}) as redemption_count,
        cast(points_spent as {{ dbt.type_bigint() }}) as points_spent,
        cast(value_amount as {{ type_decimal(18, 2) }}) as value_amount,
        cast({{ decimal_div(
            'points_spent',
            'redemption_count',
            2
        ) }} as {{ type_decimal(18, 2) }}) as average_points_per_redemption,
        {{ pct('redemption_count', 'sum(redemption_count) over (partition by website_id)') }} as percentage
    from category_totals

)

select * from final
