{#
    A plain table: campaigns and their recipients are few, and it reads the compact
    int_campaign_* models (the influenced orders, the recipients, the groups compared by
    response); the pipeline skips it when none of its inputs changed.
#}
with

campaigns as (select * from {{ ref('int_campaigns_dated') }}),
influenced as (select * from {{ ref('int_campaign_orders_influenced') }}),
recipients as (select * from {{ ref('int_campaign_recipients_converted') }}),
compared as (select * from {{ ref('int_campaign_groups_compared') }}),

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
        coalesce(recipient_totals.converted_customers, 0) as converted_customers,
        coalesce(compared.treated_recipients, 0) as treated_recipients,
        coalesce(compared.treated_responders, 0) as treated_responders,
        coalesce(compared.treated_revenue, 0) as treated_revenue,
        coalesce(compared.control_recipients, 0) as control_recipients,
        coalesce(compared.control_responders, 0) as control_responders,
        coalesce(compared.control_revenue, 0) as control_revenue,
        compared.incremental_orders,
        compared.incremental_revenue
    from campaigns
    left join order_totals on campaigns.campaign_id = order_totals.campaign_id
    left join recipient_totals on campaigns.campaign_id = recipient_totals.campaign_id
    left join compared on campaigns.campaign_id = compared.campaign_id

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
        cast({{ decimal_div('campaign_cost * 100', 'budget', 2) }} as {{ type_decimal(18, 2) }}) as budget_used,
        coalesce({{ decimal_div('campaign_cost * 100', 'budget', 2) }} > 100, false) as is_over_budget,
        cast(treated_recipients as {{ dbt.type_bigint() }}) as treated_recipients,
        cast(control_recipients as {{ dbt.type_bigint() }}) as control_recipients,
        {{ pct('treated_responders', 'treated_recipients') }} as treated_response_rate,
        {{ pct('control_responders', 'control_recipients') }} as control_response_rate,
        {{ money_ratio('treated_revenue', 'treated_recipients') }} as treated_revenue_per_recipient,
        {{ money_ratio('control_revenue', 'control_recipients') }} as control_revenue_per_recipient,
        incremental_orders,
        incremental_revenue,
        cast({{ decimal_div(
            '(incremental_revenue - campaign_cost) * 100',
            'campaign_cost',
            2
        ) }} as {{ type_decimal(18, 2) }}) as incremental_roi
    from measured

)

select * from final
