{#
    One row per campaign with a recipient sent by as_of's end: its treated group (variants
    A and B) against its control group, each measured by response (METRICS.md, Incremental
    effect), and the incremental orders and revenue.
    (per treated − per control) × treated = (treated × control − control × treated) /
    control recipients: divided once, exactly; NULL without a control group (a 0 divisor)
    or without treated recipients.
#}
with

responded as (select * from {{ ref('int_campaign_recipients_responded') }}),

group_totals as (

    select
        campaign_id,
        sum(case when variant <> 'control' then 1 else 0 end) as treated_recipients,
        sum(case when variant <> 'control' and has_responded then 1 else 0 end) as treated_responders,
        sum(case when variant <> 'control' then responding_orders else 0 end) as treated_orders,
        sum(case when variant <> 'control' then responding_revenue else 0 end) as treated_revenue,
        sum(case when variant = 'control' then 1 else 0 end) as control_recipients,
        sum(case when variant = 'control' and has_responded then 1 else 0 end) as control_responders,
        sum(case when variant = 'control' then responding_orders else 0 end) as control_orders,
        sum(case when variant = 'control' then responding_revenue else 0 end) as control_revenue
    from responded
    group by campaign_id

),

differences as (

    select
        *,
        case
            when treated_recipients > 0
                then treated_orders * control_recipients - control_orders * treated_recipients
        end as orders_difference,
        case
            when treated_recipients > 0
                then treated_revenue * control_recipients - control_revenue * treated_recipients
        end as revenue_difference
    from group_totals

),

final as (

    select
        campaign_id,
        treated_recipients,
        treated_responders,
        treated_orders,
        treated_revenue,
        control_recipients,
        control_responders,
        control_orders,
        control_revenue,
        cast({{ decimal_div('orders_difference', 'control_recipients', 2) }} as {{ type_decimal(18, 2) }})
            as incremental_orders,
        cast({{ decimal_div('revenue_difference', 'control_recipients', 2) }} as {{ type_decimal(18, 2) }})
            as incremental_revenue
    from differences

)

select * from final
