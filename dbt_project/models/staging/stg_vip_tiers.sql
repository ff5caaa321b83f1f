with

source as (

    select * from {{ source('raw', 'vip_viptier') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as vip_tier_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,

        ----------  text
        cast(tier_level as {{ dbt.type_string() }}) as tier_level,

        ----------  numbers
        cast(discount_percent as {{ type_decimal(5, 2) }}) as discount_percent,

        ----------  timestamps
        cast(upgraded_at as {{ type_timestamp_tz() }}) as upgraded_at,
        cast(expires_at as {{ type_timestamp_tz() }}) as expires_at,
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
