with

source as (

    select * from {{ source('raw', 'orders_orderitem') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as order_item_id,
        cast(order_id as {{ dbt.type_bigint() }}) as order_id,
        cast(meal_id as {{ dbt.type_bigint() }}) as meal_id,

        ----------  numbers
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cast(unit_price as {{ type_decimal(12, 2) }}) as unit_price,
        cast(line_total as {{ type_decimal(12, 2) }}) as line_total,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
