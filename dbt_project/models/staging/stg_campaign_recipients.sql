with

source as (

    select * from {{ source('raw', 'campaigns_campaignrecipient') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as campaign_recipient_id,
        cast(campaign_id as {{ dbt.type_bigint() }}) as campaign_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,

        ----------  text
        cast(variant as {{ dbt.type_string() }}) as variant,

        ----------  timestamps
        cast(sent_at as {{ type_timestamp_tz() }}) as sent_at,
        cast(created_at as {{ type_timestamp_tz() }}) as created_at
    from source

)

select * from renamed
