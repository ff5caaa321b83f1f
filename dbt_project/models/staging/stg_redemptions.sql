with

source as (

    select * from {{ source('raw', 'loyalty_redemption') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as redemption_id,
        cast(account_id as {{ dbt.type_bigint() }}) as loyalty_account_id,
        cast(item_id as {{ dbt.type_bigint() }}) as redemption_item_id,

        ----------  text
        cast(status as {{ dbt.type_string() }}) as status,

        ----------  numbers
        cast(points_spent as {{ dbt.type_int() }}) as points_spent,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
