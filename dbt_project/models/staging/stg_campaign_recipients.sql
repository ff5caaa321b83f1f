{#- Columns a later version of the source added are NULL on an older one. -#}
{%- set source_relation = source('raw', 'campaigns_campaignrecipient') -%}
{%- set present = relation_column_names(source_relation) -%}

with

source as (

    select * from {{ source_relation }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as campaign_recipient_id,
        cast(campaign_id as {{ dbt.type_bigint() }}) as campaign_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,

        ----------  text
        cast(variant as {{ dbt.type_string() }}) as variant,
        cast({{ column_or_null('channel', present) }} as {{ dbt.type_string() }}) as channel,

        ----------  timestamps
        cast(sent_at as {{ type_timestamp_tz() }}) as sent_at,
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast({{ column_or_null('opened_at', present) }} as {{ type_timestamp_tz() }}) as opened_at,
        cast({{ column_or_null('clicked_at', present) }} as {{ type_timestamp_tz() }})
            as clicked_at,
        cast({{ column_or_null('updated_at', present) }} as {{ type_timestamp_tz() }})
            as updated_at
    from source

)

select * from renamed
