{#
    A plain table: contracts are few, and it reads the corporate orders and corporate
    payments only (filters on the dated views); the pipeline skips it when no input changed.
#}
with

periods as (select * from {{ ref('int_corporate_contracts_periodized') }}),
orders as (select * from {{ ref('int_orders_to_date') }}),
payments as (select * from {{ ref('int_payments_dated') }}),
refunds as (select * from {{ ref('int_refunds_dated') }}),

{#- Orders carry no contract: a counted 'corporate' order of the website within a contract's
    active days is credited to it, and to every other contract active that day too. -#}
attributed as (

    select
        periods.contract_id,
        count(*) as corporate_orders,
        sum(orders.total) as corporate_revenue
    from periods
    inner join orders
        on periods.website_id = orders.website_id
        and periods.start_date <= orders.created_date
        and periods.active_end_date >= orders.created_date
    where orders.channel = 'corporate' and orders.is_counted
    group by periods.contract_id

),

overlapping as (

    select
        periods.contract_id,
        count(*) as overlapping_contracts
    from periods
    inner join periods as other_periods
        on periods.website_id = other_periods.website_id
        and periods.contract_id <> other_periods.contract_id
        and periods.active_end_date >= other_periods.start_date
        and periods.start_date <= other_periods.active_end_date
    where periods.active_end_date >= periods.start_date
        and other_periods.active_end_date >= other_periods.start_date
    group by periods.contract_id

),

{#- Collected by as_of: completed (or later refunded) payments on their completed date,
    minus refunds on theirs (METRICS.md, collected revenue). -#}
movements as (

    select
        payments.reference_id as contract_id,
        payments.amount,
        1 as payment_count
    from payments
    inner join periods on payments.reference_id = periods.contract_id
    where payments.purpose = 'corporate'
        and payments.status in ('completed', 'refunded')
        and payments.completed_date <= periods.as_of_date
    union all
    select
        payments.reference_id as contract_id,
        -refunds.amount as amount,
        0 as payment_count
    from refunds
    inner join payments on refunds.payment_id = payments.payment_id
    inner join periods on payments.reference_id = periods.contract_id
    where payments.purpose = 'corporate'
        and refunds.created_date <= periods.as_of_date

),

collected as (

    select
        contract_id,
        sum(payment_count) as payments_collected,
        sum(amount) as amount_collected
    from movements
    group by contract_id

),

final as (

    select
        periods.contract_id,
        periods.website_id,
        cast(periods.company_name as {{ dbt.type_string() }}) as company_name,
        cast(periods.status as {{ dbt.type_string() }}) as status,
        cast(periods.billing_cycle as {{ dbt.type_string() }}) as billing_cycle,
        periods.start_date,
        periods.end_date,
        case
            when periods.active_end_date >= periods.start_date then periods.active_end_date
        end as active_end_date,
        cast(periods.contract_value as {{ type_decimal(18, 2) }}) as contract_value,
        cast(case
            when periods.active_end_date >= periods.start_date
                then (extract(year from periods.active_end_date) - extract(year from periods.start_date)) * 12
                    + extract(month from periods.active_end_date) - extract(month from periods.start_date) + 1
            else 0
        end as {{ dbt.type_int() }}) as months_active,
        cast(coalesce(overlapping.overlapping_contracts, 0) as {{ dbt.type_bigint() }}) as overlapping_contracts,
        cast(coalesce(attributed.corporate_orders, 0) as {{ dbt.type_bigint() }}) as corporate_orders,
        cast(coalesce(attributed.corporate_revenue, 0) as {{ type_decimal(18, 2) }}) as corporate_revenue,
        cast(coalesce(collected.payments_collected, 0) as {{ dbt.type_bigint() }}) as payments_collected,
        cast(coalesce(collected.amount_collected, 0) as {{ type_decimal(18, 2) }}) as amount_collected,
        {{ pct('coalesce(collected.amount_collected, 0)', 'periods.contract_value') }} as collection_rate
    from periods
    left join attributed on periods.contract_id = attributed.contract_id
    left join overlapping on periods.contract_id = overlapping.contract_id
    left join collected on periods.contract_id = collected.contract_id

)

select * from final
