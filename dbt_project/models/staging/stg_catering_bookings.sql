with

source as (

    select * from {{ source('raw', 'catering_booking') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as catering_booking_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,

        ----------  text
        cast(status as {{ dbt.type_string() }}) as status,

        ----------  numbers
        cast(guests as {{ dbt.type_int() }}) as guests,
        cast(amount as {{ type_decimal(12, 2) }}) as amount,

        ----------  dates
        cast(event_date as date) as event_date,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
