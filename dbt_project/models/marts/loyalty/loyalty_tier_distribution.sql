{{ config(materialized='table_macro', parameters=['as_of', 'website := null']) }}

with

tier_days as (select * from {{ ref('fct_loyalty_tier_daily') }}),

arguments as (

    select
        cast({{ table_macro_arg('as_of') }} as date) as as_of_day,
        cast({{ table_macro_arg('website') }} as {{ dbt.type_bigint() }}) as website_filter

),

{#- The last loyalty day on or before as_of (the calendar starts at the first ledger
    entry and ends at the warehouse's as_of). -#}
reported_days as (

    select
        tier_days.website_id,
        max(tier_days.business_date) as business_date
    from tier_days
    cross join arguments
    where tier_days.business_date <= arguments.as_of_day
        and (arguments.website_filter is null or tier_days.website_id = arguments.website_filter)
    group by tier_days.website_id

),

final as (

    select
        tier_days.website_id,
        tier_days.business_date,
        tier_days.tier,
        {{ dbt.concat(['upper(substr(tier_days.tier, 1, 1))', 'substr(tier_days.tier, 2)']) }} as tier_name,
        tier_days.active_clients as {{ adapter.quote('count') }},
        tier_days.threshold,
        tier_days.percentage,
        tier_days.tier_rank
    from tier_days
    inner join reported_days
        on tier_days.website_id = reported_days.website_id
        and tier_days.business_date = reported_days.business_date

)

select * from final
