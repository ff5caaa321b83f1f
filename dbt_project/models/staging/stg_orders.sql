{#- Columns a later version of the source added are NULL on an older one. -#}
{%- set source_relation = source('raw', 'orders_order') -%}
{%- set present = relation_column_names(source_relation) -%}

with

source as (

    select * from {{ source_relation }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as order_id,
        cast(website_id as {{ dbt.type_bigint() }}) as website_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,
        cast(campaign_id as {{ dbt.type_bigint() }}) as campaign_id,

        ----------  text
        cast(status as {{ dbt.type_string() }}) as status,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(discount_type as {{ dbt.type_string() }}) as discount_type,
        cast(payment_method as {{ dbt.type_string() }}) as payment_method,
        cast(payment_status as {{ dbt.type_string() }}) as payment_status,

        ----------  numbers
        cast(subtotal as {{ type_decimal(12, 2) }}) as subtotal,
        cast(discount_amount as {{ type_decimal(12, 2) }}) as discount_amount,
        cast(delivery_fee as {{ type_decimal(12, 2) }}) as delivery_fee,
        cast(total as {{ type_decimal(12, 2) }}) as total,
        cast(loyalty_points_used as {{ dbt.type_int() }}) as loyalty_points_used,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at,
        cast(delivered_at as {{ type_timestamp_tz() }}) as delivered_at,
        cast(cancelled_at as {{ type_timestamp_tz() }}) as cancelled_at,
        cast({{ column_or_null('confirmed_at', present) }} as {{ type_timestamp_tz() }})
            as confirmed_at,
        cast({{ column_or_null('prepared_at', present) }} as {{ type_timestamp_tz() }})
            as prepared_at
    from source

)

select * from renamed
