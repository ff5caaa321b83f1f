{#-
    The month's MRR movements, summed from each subscriber's classification
    (int_subscription_movements_classified: MRR at the month's last instant against the
    month before, new vs reactivation by any earlier month end). Every movement but
    churned_mrr is >= 0, so opening + new + reactivation + expansion - contraction +
    churned = closing on every row by construction (and by test). Months without a
    subscriber carry zeros.
    A plain table: subscriptions are a small input.
-#}
with

months as (select * from {{ ref('int_subscription_months_spined') }}),
movements as (select * from {{ ref('int_subscription_movements_classified') }}),

month_movements as (

    select
        website_id,
        month_number,
        sum(opening_mrr) as opening_mrr,
        sum(case when movement = 'new' then closing_mrr else 0 end) as new_mrr,
        sum(case when movement = 'reactivation' then closing_mrr else 0 end) as reactivation_mrr,
        sum(case when movement = 'expansion' then closing_mrr - opening_mrr else 0 end) as expansion_mrr,
        sum(case when movement = 'contraction' then opening_mrr - closing_mrr else 0 end) as contraction_mrr,
        -sum(case when movement = 'churn' then opening_mrr else 0 end) as churned_mrr,
        sum(closing_mrr) as closing_mrr,
        sum(case when opening_mrr > 0 then 1 else 0 end) as opening_subscribers,
        sum(case when movement = 'new' then 1 else 0 end) as subscribers_new,
        sum(case when movement = 'reactivation' then 1 else 0 end) as subscribers_reactivated,
        sum(case when movement = 'expansion' then 1 else 0 end) as subscribers_expanded,
        sum(case when movement = 'contraction' then 1 else 0 end) as subscribers_contracted,
        sum(case when movement = 'churn' then 1 else 0 end) as subscribers_churned,
        sum(case when closing_mrr > 0 then 1 else 0 end) as closing_subscribers
    from movements
    group by website_id, month_number

),

final as (

    select
        months.website_id,
        months.month,
        cast(coalesce(month_movements.opening_mrr, 0) as {{ type_decimal(18, 2) }}) as opening_mrr,
        cast(coalesce(month_movements.new_mrr, 0) as {{ type_decimal(18, 2) }}) as new_mrr,
        cast(coalesce(month_movements.reactivation_mrr, 0) as {{ type_decimal(18, 2) }}) as reactivation_mrr,
        cast(coalesce(month_movements.expansion_mrr, 0) as {{ type_decimal(18, 2) }}) as expansion_mrr,
        cast(coalesce(month_movements.contraction_mrr, 0) as {{ type_decimal(18, 2) }}) as contraction_mrr,
        cast(coalesce(month_movements.churned_mrr, 0) as {{ type_decimal(18, 2) }}) as churned_mrr,
        cast(coalesce(month_movements.closing_mrr, 0) as {{ type_decimal(18, 2) }}) as closing_mrr,
        cast(coalesce(month_movements.opening_subscribers, 0) as {{ dbt.type_bigint() }}) as opening_subscribers,
        cast(coalesce(month_movements.subscribers_new, 0) as {{ dbt.type_bigint() }}) as subscribers_new,
        cast(coalesce(month_movements.subscribers_reactivated, 0) as {{ dbt.type_bigint() }})
            as subscribers_reactivated,
        cast(coalesce(month_movements.subscribers_expanded, 0) as {{ dbt.type_bigint() }}) as subscribers_expanded,
        cast(coalesce(month_movements.subscribers_contracted, 0) as {{ dbt.type_bigint() }}) as subscribers_contracted,
        cast(coalesce(month_movements.subscribers_churned, 0) as {{ dbt.type_bigint() }}) as subscribers_churned,
        cast(coalesce(month_movements.closing_subscribers, 0) as {{ dbt.type_bigint() }}) as closing_subscribers,
        {{ pct('month_movements.subscribers_churned', 'month_movements.opening_subscribers') }}
            as subscriber_churn_rate,
        {{ pct('-month_movements.churned_mrr', 'month_movements.opening_mrr') }} as revenue_churn_rate,
        months.closing_at
    from months
    left join month_movements
        on months.website_id = month_movements.website_id
        and months.month_number = month_movements.month_number

)

select * from final
