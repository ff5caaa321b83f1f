with

websites as (select * from {{ ref('stg_websites') }}),
reporting as (select * from {{ ref('int_websites_as_of') }}),

final as (

    select
        websites.website_id,
        cast(websites.website_name as {{ dbt.type_string() }}) as website_name,
        cast(websites.currency as {{ dbt.type_string() }}) as currency,
        cast(websites.timezone as {{ dbt.type_string() }}) as timezone,
        reporting.as_of_date
    from websites
    left join reporting on websites.website_id = reporting.website_id

)

select * from final
