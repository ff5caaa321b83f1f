with

source as (

    select * from {{ source('raw', 'nutrition_consultation') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as consultation_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,

        ----------  text
        cast(nutritionist_name as {{ dbt.type_string() }}) as nutritionist_name,
        cast(status as {{ dbt.type_string() }}) as status,

        ----------  numbers
        cast(fee as {{ type_decimal(12, 2) }}) as fee,

        ----------  timestamps
        cast(scheduled_at as {{ type_timestamp_tz() }}) as scheduled_at,
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
