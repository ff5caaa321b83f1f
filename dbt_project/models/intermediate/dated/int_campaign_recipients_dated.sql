{#
    Campaign recipients with their campaign's website and the business date they were
    sent to on. campaigns_campaignrecipient has no website_id: it is its campaign's, and
    so is the time zone of its business dates. A row whose campaign is missing keeps
    NULLs there (the not_null test on website_id reports it).
#}
with

recipients as (select * from {{ ref('stg_campaign_recipients') }}),
campaigns as (select * from {{ ref('stg_campaigns') }}),

located as (

    select
        recipients.*,
        campaigns.website_id
    from recipients
    left join campaigns on recipients.campaign_id = campaigns.campaign_id

),

final as (

    {{ with_business_dates('located', ['sent_at']) }}

)

select * from final
