{{ config(
    materialized='table_macro',
    parameters=['lim := 10', 'website := null', 'date_from := null', 'date_to := null']
) }}

with

item_days as (select * from {{ ref('fct_redemption_items') }}),

arguments as (

    select
        cast({{ table_macro_arg('lim') }} as {{ dbt.type_int() }}) as item_limit,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter,
        cast({{ table_macro_arg('date_from') }} as date) as window_start,
        cast({{ table_macro_arg('date_to') }} as date) as window_end

),

item_totals as (

    select
        item_days.website_id,
        item_days.redemption_item_id,
        item_days.item_name,
        item_days.category,
        item_days.points_required,
        sum(item_days.redemption_count) as redemption_count
    from item_days
    cross join arguments
    where (arguments.website_filter is null or item_days.website_id = arguments.website_filter)
        and (arguments.window_start is null or item_days.business_date >= arguments.window_start)
        and (arguments.window_end is null or item_days.business_date <= arguments.window_end)
    group by
        item_days.website_id,
        item_days.redemption_item_id,
        item_days.item_name,
        item_days.category,
        item_days.points_required

),

ranked as (

    select
        item_totals.*,
        row_number() over (
            partition by item_totals.website_id
            order by item_totals.redemption_count desc, item_totals.redemption_item_id asc
        ) as popularity_rank
    from item_totals

),

final as (

    select
        ranked.website_id,
        ranked.popularity_rank,
        ranked.redemption_item_id as id,
        ranked.item_name as name,
        ranked.points_required,
        cast(ranked.redemption_count as {{ dbt.type_bigint() }}) as redemption_count,
        ranked.category
    from ranked
    cross join arguments
    where ranked.popularity_rank <= arguments.item_limit

)

select * from final
