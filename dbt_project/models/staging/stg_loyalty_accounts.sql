with

source as (

    select * from {{ source('raw', 'loyalty_loyaltyaccount') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as loyalty_account_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,

        ----------  text
        cast(tier as {{ dbt.type_string() }}) as tier,

        ----------  numbers
        cast(points_balance as {{ dbt.type_int() }}) as points_balance,
        cast(lifetime_points as {{ dbt.type_int() }}) as lifetime_points,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
