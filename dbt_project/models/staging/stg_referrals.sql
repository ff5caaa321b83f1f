with

source as (

    select * from {{ source('raw', 'referrals_referral') }}

),

renamed as (

    select
        ----------  ids
        cast(id as {{ dbt.type_bigint() }}) as referral_id,
        cast(referrer_id as {{ dbt.type_bigint() }}) as referrer_user_id,
        cast(referee_id as {{ dbt.type_bigint() }}) as referee_user_id,

        ----------  text
        cast(status as {{ dbt.type_string() }}) as status,

        ----------  numbers
        cast(bonus_amount as {{ type_decimal(12, 2) }}) as bonus_amount,

        ----------  timestamps
        cast(rewarded_at as {{ type_timestamp_tz() }}) as rewarded_at,
        cast(created_at as {{ type_timestamp_tz() }}) as created_at,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at
    from source

)

select * from renamed
