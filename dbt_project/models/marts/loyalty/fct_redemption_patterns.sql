with

redemptions as (select * from {{ ref('int_redemptions_enriched') }}),

final as (

    select
        website_id,
        business_date,
        local_weekday,
        cast(
            case local_weekday
                when 1 then 'Monday'
                when 2 then 'Tuesday'
                when 3 then 'Wednesday'
                when 4 then 'Thursday'
                when 5 then 'Friday'
                when 6 then 'Saturday'
                when 7 then 'Sunday'
            end as {{ dbt.type_string() }}
        ) as local_weekday_name,
        local_hour,
        cast(count(*) as {{ dbt.type_bigint() }}) as redemption_count,
        cast(sum(points_spent) as {{ dbt.type_bigint() }}) as points_spent
    from redemptions
    group by website_id, business_date, local_weekday, local_hour

)

select * from final
