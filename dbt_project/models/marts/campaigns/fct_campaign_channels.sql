{#
    A plain table over the campaign recipients (a few rows per campaign): the pipeline
    skips it when they did not change.
#}
with

recipients as (select * from {{ ref('int_campaign_recipients_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

{#- What had happened by as_of's end: a message sent, opened or clicked later is not yet. -#}
as_of_end as (

    select
        recipients.campaign_id,
        recipients.website_id,
        recipients.channel,
        recipients.opened_at is not null
        and recipients.opened_at < websites.as_of_end_at as is_opened,
        recipients.clicked_at is not null
        and recipients.clicked_at < websites.as_of_end_at as is_clicked
    from recipients
    inner join websites on recipients.website_id = websites.website_id
    where recipients.sent_at < websites.as_of_end_at

),

channel_totals as (

    select
        campaign_id,
        website_id,
        channel,
        count(*) as sent,
        sum(case when is_opened then 1 else 0 end) as opened,
        sum(case when is_clicked then 1 else 0 end) as clicked
    from as_of_end
    group by campaign_id, website_id, channel

),

final as (

    select
        campaign_id,
        website_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(sent as {{ dbt.type_bigint() }}) as sent,
        cast(opened as {{ dbt.type_bigint() }}) as opened,
        cast(clicked as {{ dbt.type_bigint() }}) as clicked,
        {{ pct('opened', 'sent') }} as open_rate,
        {{ pct('clicked', 'sent') }} as click_rate
    from channel_totals

)

select * from final
