with

customers as (select * from {{ ref('int_customers_aggregated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

customer_counts as (

    select
        website_id,
        count(*) as customers,
        sum(case when total_orders >= 1 then 1 else 0 end) as ordering_customers,
        sum(case when churn_risk then 1 else 0 end) as at_risk_customers,
        sum(case when total_orders >= 2 then 1 else 0 end) as repeat_customers
    from customers
    group by website_id

),

final as (

    select
        websites.website_id,
        websites.as_of_date,
        cast(coalesce(customer_counts.customers, 0) as {{ dbt.type_bigint() }}) as customers,
        cast(coalesce(customer_counts.ordering_customers, 0) as {{ dbt.type_bigint() }}) as ordering_customers,
        cast(coalesce(customer_counts.at_risk_customers, 0) as {{ dbt.type_bigint() }}) as at_risk_customers,
        cast(coalesce(customer_counts.repeat_customers, 0) as {{ dbt.type_bigint() }}) as repeat_customers,
        {{ pct('customer_counts.at_risk_customers', 'customer_counts.ordering_customers') }} as churn_rate,
        {{ pct('customer_counts.repeat_customers', 'customer_counts.ordering_customers') }} as repeat_purchase_rate
    from websites
    left join customer_counts on websites.website_id = customer_counts.website_id

)

select * from final
