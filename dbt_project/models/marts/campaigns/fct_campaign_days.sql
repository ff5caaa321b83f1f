{#
    A plain table: its rows are the campaigns' days (a few weeks each), built from the
    compact int_campaign_orders_influenced and the recipients; recomputing it whole is as
    cheap as finding the changed days, and exact by construction.
#}
with

campaigns as (select * from {{ ref('int_campaigns_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
influenced as (select * from {{ ref('int_campaign_orders_influenced') }}),
recipients as (select * from {{ ref('int_campaign_recipients_dated') }}),

bounded as (

    select
        campaigns.campaign_id,
        campaigns.website_id,
        campaigns.budget,
        campaigns.start_date,
        case
            when campaigns.end_date < websites.as_of_date then campaigns.end_date
            else websites.as_of_date
        end as last_date
    from campaigns
    inner join websites on campaigns.website_id = websites.website_id

),

days as (

    {{ days_between('bounded', ['campaign_id', 'website_id', 'budget'], 'start_date', 'last_date') }}

),

order_days as (

    select
        campaign_id,
        created_date as business_date,
        count(*) as orders_influenced,
        sum(total) as revenue_generated,
        sum(discount_amount) as campaign_cost
    from influenced
    group by campaign_id, created_date

),

{#- A customer is a new recipient on the business date they were first sent the campaign. -#}
first_sends as (

    select
        campaign_id,
        user_id,
        min(sent_date) as sent_date
    from recipients
    group by campaign_id, user_id

),

send_days as (

    select
        campaign_id,
        sent_date as business_date,
        count(*) as recipients_sent
    from first_sends
    group by campaign_id, sent_date

),

joined as (

    select
        days.campaign_id,
        days.website_id,
        days.business_date,
        days.budget,
        coalesce(order_days.orders_influenced, 0) as orders_influenced,
        coalesce(order_days.revenue_generated, 0) as revenue_generated,
        coalesce(order_days.campaign_cost, 0) as campaign_cost,
        coalesce(send_days.recipients_sent, 0) as recipients_sent
    from days
    left join order_days
        on days.campaign_id = order_days.campaign_id
        and days.business_date = order_days.business_date
    left join send_days
        on days.campaign_id = send_days.campaign_id
        and days.business_date = send_days.business_date

),

accumulated as (

    select
        joined.*,
        sum(joined.campaign_cost) over (
            partition by joined.campaign_id order by joined.business_date
            rows between unbounded preceding and current row
        ) as cumulative_cost
    from joined

),

final as (

    select
        campaign_id,
        website_id,
        business_date,
        cast(orders_influenced as {{ dbt.type_bigint() }}) as orders_influenced,
        cast(revenue_generated as {{ type_decimal(18, 2) }}) as revenue_generated,
        cast(campaign_cost as {{ type_decimal(18, 2) }}) as campaign_cost,
        cast(recipients_sent as {{ dbt.type_bigint() }}) as recipients_sent,
        cast(cumulative_cost as {{ type_decimal(18, 2) }}) as cumulative_cost,
        cast({{ decimal_div('cumulative_cost * 100', 'budget', 2) }} as {{ type_decimal(18, 2) }}) as budget_used,
        coalesce({{ decimal_div('cumulative_cost * 100', 'budget', 2) }} > 100, false) as is_over_budget
    from accumulated

)

select * from final
