with

campaigns as (select * from {{ ref('int_campaigns_dated') }}),
influenced as (select * from {{ ref('int_campaign_orders_influenced') }}),
recipients as (select * from {{ ref('int_campaign_recipients_converted') }}),

order_totals as (

    select
        campaign_id,
        count(*) as orders_influenced,
        sum(total) as revenue_generated,
        sum(discount_amount) as campaign_cost
    from influenced
    group by campaign_id

),

recipient_totals as (

    select
        campaign_id,
        count(distinct user_id) as customers_reached,
        count(distinct case when has_converted then user_id end) as converted_customers
    from recipients
    group by campaign_id

),

measured as (

    select
        campaigns.campaign_id,
        campaigns.website_id,
        campaigns.campaign_name,
        campaigns.status,
        campaigns.start_date,
        campaigns.end_date,
        campaigns.budget,
        coalesce(order_totals.orders_influenced, 0) as orders_influenced,
        coalesce(order_totals.revenue_generated, 0) as revenue_generated,
        coalesce(order_totals.campaign_cost, 0) as campaign_cost,
        coalesce(recipient_totals.customers_reached, 0) as customers_reached,
        coalesce(recipient_totals.converted_customers, 0) as converted_customers
    from campaigns
    left join order_totals on campaigns.campaign_id = order_totals.campaign_id
    left join recipient_totals on campaigns.campaign_id = recipient_totals.campaign_id

),

final as (

    select
        campaign_id,
        website_id,
        cast(campaign_name as {{ dbt.type_string() }}) as campaign_name,
        cast(status as {{ dbt.type_string() }}) as status,
        start_date,
        end_date,
        cast(orders_influenced as {{ dbt.type_bigint() }}) as orders_influenced,
        cast(revenue_generated as {{ type_decimal(18, 2) }}) as revenue_generated,
        cast(campaign_cost as {{ type_decimal(18, 2) }}) as campaign_cost,
        cast(budget as {{ type_decimal(18, 2) }}) as budget,
        cast(customers_reached as {{ dbt.type_bigint() }}) as customers_reached,
        cast(converted_customers as {{ dbt.type_bigint() }}) as converted_customers,
        {{ pct('converted_customers', 'customers_reached') }} as conversion_rate,
        cast({{ decimal_div(
            '(revenue_generated - campaign_cost) * 100',
            'campaign_cost',
            2
        ) }} as {{ type_decimal(18, 2) }}) as roi,
        cast({{ decimal_div('campaign_cost * 100', 'budget', 2) }} as {{ type_decimal(18, 2) }}) as budget_used
    from measured

)

select * from final
