with

source as (

    select * from {{ source('raw', 'payments_payment') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as payment_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,
        cast(order_id as {{ dbt.type_bigint() }}) as order_id,
        cast(reference_id as {{ dbt.type_bigint() }}) as reference_id,

        ----------  text
        cast(purpose as {{ dbt.type_string() }}) as purpose,
        cast(method as {{ dbt.type_string() }}) as payment_method,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(provider_reference as {{ dbt.type_string() }}) as provider_reference,

        ----------  numbers
        cast(amount as {{ type_decimal(12, 2) }}) as amount,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at,
        cast(completed_at as {{ type_timestamp_tz() }}) as completed_at
    from source

)

select * from renamed
