with

source as (

    select * from {{ source('raw', 'corporate_contract') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as contract_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,

        ----------  text
        cast(company_name as {{ dbt.type_string() }}) as company_name,
        cast(billing_cycle as {{ dbt.type_string() }}) as billing_cycle,
        cast(status as {{ dbt.type_string() }}) as status,

        ----------  numbers
        cast(contract_value as {{ type_decimal(12, 2) }}) as contract_value,

        ----------  dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
