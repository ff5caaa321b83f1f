with

source as (

    select * from {{ source('raw', 'loyalty_loyaltytransaction') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as loyalty_transaction_id,
        cast(account_id as {{ dbt.type_bigint() }}) as loyalty_account_id,
        cast(order_id as {{ dbt.type_bigint() }}) as order_id,
        cast(redemption_id as {{ dbt.type_bigint() }}) as redemption_id,

        ----------  text
        cast(transaction_type as {{ dbt.type_string() }}) as transaction_type,
        cast(source as {{ dbt.type_string() }}) as source,

        ----------  numbers
        cast(points as {{ dbt.type_int() }}) as points,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at
    from source

)

select * from renamed
