with

source as (

    select * from {{ source('raw', 'subscriptions_plan') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as plan_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,

        ----------  text
        cast(name as {{ dbt.type_string() }}) as plan_name,
        cast({{ adapter.quote('interval') }} as {{ dbt.type_string() }}) as billing_interval,

        ----------  numbers
        cast(price as {{ type_decimal(12, 2) }}) as price,
        cast(meals_per_week as {{ dbt.type_int() }}) as meals_per_week,

        ----------  booleans
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
