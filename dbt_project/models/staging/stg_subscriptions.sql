with

source as (

    select * from {{ source('raw', 'subscriptions_subscription') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as subscription_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,
        cast(plan_id as {{ dbt.type_bigint() }}) as plan_id,

        ----------  text
        cast(status as {{ dbt.type_string() }}) as status,

        ----------  timestamps
        cast(started_at as {{ type_timestamp_tz() }}) as started_at,
        cast(current_period_end as {{ type_timestamp_tz() }}) as current_period_end_at,
        cast(cancelled_at as {{ type_timestamp_tz() }}) as cancelled_at,
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
