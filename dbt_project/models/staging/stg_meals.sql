with

source as (

    select * from {{ source('raw', 'menu_meal') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as meal_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,

        ----------  text
        cast(name as {{ dbt.type_string() }}) as meal_name,
        cast(category as {{ dbt.type_string() }}) as category,

        ----------  numbers
        cast(price as {{ type_decimal(12, 2) }}) as price,

        ----------  booleans
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
