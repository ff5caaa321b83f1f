with

source as (

    select * from {{ source('raw', 'loyalty_redemptionitem') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as redemption_item_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,

        ----------  text
        cast(name as {{ dbt.type_string() }}) as item_name,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(item_type as {{ dbt.type_string() }}) as item_type,

        ----------  numbers
        cast(points_required as {{ dbt.type_int() }}) as points_required,
        cast(value_amount as {{ type_decimal(12, 2) }}) as value_amount,

        ----------  booleans
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
