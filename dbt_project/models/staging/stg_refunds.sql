with

source as (

    select * from {{ source('raw', 'payments_refund') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as refund_id,
        cast(payment_id as {{ dbt.type_bigint() }}) as payment_id,

        ----------  text
        cast(reason as {{ dbt.type_string() }}) as reason,

        ----------  numbers
        cast(amount as {{ type_decimal(12, 2) }}) as amount,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at
    from source

)

select * from renamed
