{#
    Predicted customer value (METRICS.md, Customer value, predicted): per customer with a
    delivered order up to as_of, the BG/NBD and Gamma-Gamma inputs (in days) and figures,
    both models fitted per website (int_customers_predicted, pipelines/predict/clv.py).
    Money in the website's currency, DECIMAL.
#}
{#-
    A table rebuilt whole, like its inputs: the fit takes every customer of a website.
-#}
with

customers as (select * from {{ ref('int_customers_rfm_summarised') }}),
predicted as (select * from {{ ref('int_customers_predicted') }}),

final as (

    select
        customers.user_id,
        customers.website_id,
        customers.as_of_date,
        cast(predicted.p_alive as {{ type_double() }}) as p_alive,
        cast(predicted.expected_orders_90d as {{ type_double() }}) as expected_orders_90d,
        cast(predicted.expected_orders_365d as {{ type_double() }}) as expected_orders_365d,
        cast(predicted.predicted_value_12m as {{ type_decimal(18, 2) }}) as predicted_value_12m,
        cast(predicted.expected_order_value as {{ type_decimal(18, 2) }}) as expected_order_value,
        customers.delivered_orders,
        customers.frequency,
        customers.recency_days,
        customers.t_days,
        case
            when customers.frequency > 0
                then {{ money_ratio('customers.repeat_total', 'customers.frequency') }}
        end as monetary_value,
        cast(predicted.fit_status as {{ dbt.type_string() }}) as fit_status
    from customers
    inner join predicted
        on customers.website_id = predicted.website_id
        and customers.user_id = predicted.user_id

)

select * from final
