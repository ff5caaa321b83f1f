with

source as (

    select * from {{ source('raw', 'campaigns_campaign') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as campaign_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,

        ----------  text
        cast(name as {{ dbt.type_string() }}) as campaign_name,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(discount_type as {{ dbt.type_string() }}) as discount_type,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(target_audience as {{ dbt.type_string() }}) as target_audience,

        ----------  numbers
        cast(discount_value as {{ type_decimal(10, 2) }}) as discount_value,
        cast(budget as {{ type_decimal(12, 2) }}) as budget,

        ----------  timestamps
        cast(start_date as {{ type_timestamp_tz() }}) as starts_at,
        cast(end_date as {{ type_timestamp_tz() }}) as ends_at,
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
