{#- Columns a later version of the source added are NULL on an older one. -#}
{%- set source_relation = source('raw', 'support_ticket') -%}
{%- set present = relation_column_names(source_relation) -%}

with

source as (

    select * from {{ source_relation }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as ticket_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,

        ----------  text
        cast(category as {{ dbt.type_string() }}) as category,
        cast(priority as {{ dbt.type_string() }}) as priority,
        cast(status as {{ dbt.type_string() }}) as status,
        cast({{ column_or_null('assigned_agent', present) }} as {{ dbt.type_string() }})
            as assigned_agent,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(first_response_at as {{ type_timestamp_tz() }}) as first_response_at,
        cast(resolved_at as {{ type_timestamp_tz() }}) as resolved_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
