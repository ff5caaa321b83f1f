with

source as (

    select * from {{ source('raw', 'accounts_website') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as website_id,

        ----------  text
        cast(name as {{ dbt.type_string() }}) as website_name,
        cast(domain as {{ dbt.type_string() }}) as domain,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(timezone as {{ dbt.type_string() }}) as timezone,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
