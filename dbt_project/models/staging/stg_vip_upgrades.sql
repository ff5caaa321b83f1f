with

source as (

    select * from {{ source('raw', 'vip_vipupgrade') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as vip_upgrade_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,

        ----------  text
        cast(from_tier as {{ dbt.type_string() }}) as from_tier,
        cast(to_tier as {{ dbt.type_string() }}) as to_tier,

        ----------  numbers
        cast(price as {{ type_decimal(12, 2) }}) as price,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at
    from source

)

select * from renamed
