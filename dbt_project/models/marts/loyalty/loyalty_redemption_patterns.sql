{{ config(materialized='table_macro', parameters=['date_from', 'date_to', 'website := null']) }}

with

pattern_days as (select * from {{ ref('fct_redemption_patterns') }}),

arguments as (

    select
        cast({{ table_macro_arg('date_from') }} as date) as window_start,
        cast({{ table_macro_arg('date_to') }} as date) as window_end,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter

),

final as (

    select
        pattern_days.website_id,
        pattern_days.local_weekday,
        pattern_days.local_weekday_name,
        pattern_days.local_hour,
        cast(sum(pattern_days.redemption_count) as {{ dbt.type_bigint() }}) as redemption_count,
        cast(sum(pattern_days.points_spent) as {{ dbt.type_bigint() }}) as points_spent
    from pattern_days
    cross join arguments
    where pattern_days.business_date between arguments.window_start and arguments.window_end
        and (arguments.website_filter is null or pattern_days.website_id = arguments.website_filter)
    group by
        pattern_days.website_id,
        pattern_days.local_weekday,
        pattern_days.local_weekday_name,
        pattern_days.local_hour

)

select * from final
