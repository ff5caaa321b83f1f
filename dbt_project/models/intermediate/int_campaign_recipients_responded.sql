{#
    One row per campaign, variant and recipient customer sent the campaign by as_of's end:
    whether they responded (METRICS.md, Incremental effect), i.e. placed a counted order,
    with or without the campaign's code, created within [max(sent_at, start_date),
    end_date] and up to as_of; and how many such orders and their Σ total.
    A plain table: the recipients are few, and the orders are read through a semi-join on
    them (int_orders_to_date); the pipeline skips it when no input changed.
#}
with

recipients as (select * from {{ ref('int_campaign_recipients_dated') }}),
campaigns as (select * from {{ ref('stg_campaigns') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
orders as (select * from {{ ref('int_orders_to_date') }}),

{#- A message sent after as_of's end had no window yet: not a recipient as of then. -#}
sent as (

    select
        recipients.campaign_id,
        recipients.website_id,
        recipients.variant,
        recipients.user_id,
        min(recipients.sent_at) as sent_at
    from recipients
    inner join websites on recipients.website_id = websites.website_id
    where recipients.sent_at < websites.as_of_end_at
    group by
        recipients.campaign_id,
        recipients.website_id,
        recipients.variant,
        recipients.user_id

),

windowed as (

    select
        sent.*,
        case
            when sent.sent_at > campaigns.starts_at then sent.sent_at else campaigns.starts_at
        end as responds_from,
        campaigns.ends_at as responds_to
    from sent
    inner join campaigns on sent.campaign_id = campaigns.campaign_id

),

responses as (

    select
        windowed.campaign_id,
        windowed.variant,
        windowed.user_id,
        count(*) as responding_orders,
        sum(orders.total) as responding_revenue
    from windowed
    inner join orders on windowed.user_id = orders.user_id
    where orders.is_counted
        and orders.created_at >= windowed.responds_from
        and orders.created_at <= windowed.responds_to
    group by windowed.campaign_id, windowed.variant, windowed.user_id

),

final as (

    select
        windowed.campaign_id,
        windowed.website_id,
        windowed.variant,
        windowed.user_id,
        windowed.sent_at,
        windowed.responds_from,
        windowed.responds_to,
        responses.user_id is not null as has_responded,
        coalesce(responses.responding_orders, 0) as responding_orders,
        coalesce(responses.responding_revenue, 0) as responding_revenue
    from windowed
    left join responses
        on windowed.campaign_id = responses.campaign_id
        and windowed.variant = responses.variant
        and windowed.user_id = responses.user_id

)

select * from final
