{#-
    A table a later version of the source added: on an older source (no raw copy of it)
    this model is empty, with the same columns and types.
-#}
with

source as (

    select * from {{ relation_or_empty(source('raw', 'health_healthprofile'), {
        'id': dbt.type_bigint(),
        'user_id': dbt.type_bigint(),
        'dietary_goal': dbt.type_string(),
        'allergies': dbt.type_string(),
        'daily_calorie_target': dbt.type_int(),
        'activity_level': dbt.type_string(),
        'created_at': type_timestamp_tz(),
        'updated_at': type_timestamp_tz(),
    }) }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as health_profile_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,

        ----------  text
        cast(dietary_goal as {{ dbt.type_string() }}) as dietary_goal,
        cast(allergies as {{ dbt.type_string() }}) as allergies,
        cast(activity_level as {{ dbt.type_string() }}) as activity_level,

        ----------  numbers
        cast(daily_calorie_target as {{ dbt.type_int() }}) as daily_calorie_target,

        ----------  timestamps
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
