{#
    The retention cohort of each customer on each website they have a delivered order on
    (METRICS.md): the business date of their first delivered order there, whatever as_of
    (fct_customer_cohorts keeps the members whose first order is up to as_of: their cohort
    is the same), and its month. A delivered order dated before its website opened (a
    zeroed clock's 1970) starts no cohort.
#}
{#-
    Incremental by customer (macros/incremental/slices.sql): a run rebuilds the customers
    whose delivered orders changed (before and after the change: the net of
    int_orders_enriched's delta over the columns read). Its delta tells fct_customer_cohorts
    the cohorts a customer left and joined.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['user_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched']) -%}
{%- set affected -%}
    select user_id
    from ({{ delta_net_changed(window, 'int_orders_enriched',
        ['user_id', 'website_id', 'status', 'created_date']) }}) as orders_changed
    where status = 'delivered'
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

orders as (
    select * from {{ ref('int_orders_enriched') }} as changed  -- noqa: AL05
    where {{ slices_filter(window, {'user_id': 'changed.user_id'}) }}
),
websites as (select * from {{ ref('int_websites_as_of') }}),

final as (

    select
        orders.website_id,
        orders.user_id,
        min(orders.created_date) as first_order_date,
        cast({{ dbt.date_trunc('month', 'min(orders.created_date)') }} as date) as cohort_month
    from orders
    inner join websites on orders.website_id = websites.website_id
    where
        orders.status = 'delivered'
        and orders.created_date >= coalesce(websites.opened_date, orders.created_date)
    group by orders.website_id, orders.user_id

)

select * from final
