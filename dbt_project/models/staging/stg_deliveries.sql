with

source as (

    select * from {{ source('raw', 'delivery_delivery') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as delivery_id,
        cast(order_id as {{ dbt.type_bigint() }}) as order_id,

        ----------  text
        cast(rider_name as {{ dbt.type_string() }}) as rider_name,
        cast(status as {{ dbt.type_string() }}) as status,

        ----------  numbers
        cast(distance_km as {{ type_decimal(6, 2) }}) as distance_km,

        ----------  timestamps
        cast(assigned_at as {{ type_timestamp_tz() }}) as assigned_at,
        cast(picked_up_at as {{ type_timestamp_tz() }}) as picked_up_at,
        cast(delivered_at as {{ type_timestamp_tz() }}) as delivered_at,
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
