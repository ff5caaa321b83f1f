with

source as (

    select * from {{ source('raw', 'referrals_referral') }}

),

{#- referrals_referral has no website_id: its website (and so the time zone of its business
    dates) is looked up one hop away, on accounts_user. A row whose parent is missing keeps NULLs
    there, and the not_null test on website_id reports it. -#}
parents as (

    select
        cast(id as bigint) as parent_id,
        cast(website_id as bigint) as website_id
    from {{ source('raw', 'accounts_user') }}

),

websites as (

    select
        cast(id as bigint) as website_id,
        cast(timezone as varchar) as timezone
    from {{ source('raw', 'accounts_website') }}

),

renamed as (

    select
        ----------  ids
        cast(id as bigint) as referral_id,
        cast(referrer_id as bigint) as referrer_user_id,
        cast(referee_id as bigint) as referee_user_id,

        ----------  text
        cast(status as varchar) as status,

        ----------  numbers
        cast(bonus_amount as decimal(12, 2)) as bonus_amount,

        ----------  timestamps
        cast(rewarded_at as timestamptz) as rewarded_at,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.referral_id,
        parents.website_id,
        renamed.referrer_user_id,
        renamed.referee_user_id,

        ----------  text
        renamed.status,

        ----------  numbers
        renamed.bonus_amount,

        ----------  timestamps
        renamed.rewarded_at,
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date,
        {{ business_date('renamed.rewarded_at', 'websites.timezone') }} as rewarded_date
    from renamed
    left join parents on renamed.referrer_user_id = parents.parent_id
    left join websites on parents.website_id = websites.website_id

)

select * from final
