{#
    Referrals with their referrer's website and the business dates they were created and
    rewarded on. referrals_referral has no website_id: it is its referrer's, and so is
    the time zone of its business dates. A row whose referrer is missing keeps NULLs
    there (the not_null test on website_id reports it).
#}
with

referrals as (select * from {{ ref('stg_referrals') }}),
referrers as (select * from {{ ref('stg_users') }}),

located as (

    select
        referrals.*,
        referrers.website_id
    from referrals
    left join referrers on referrals.referrer_user_id = referrers.user_id

),

final as (

    {{ with_business_dates('located', ['created_at', 'rewarded_at']) }}

)

select * from final
