with

source as (

    select * from {{ source('raw', 'accounts_user') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as user_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,
        cast(referred_by_id as {{ dbt.type_bigint() }}) as referred_by_user_id,

        ----------  text
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name,

        ----------  booleans
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,

        ----------  timestamps
        cast(date_joined as {{ type_timestamp_tz() }}) as joined_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
