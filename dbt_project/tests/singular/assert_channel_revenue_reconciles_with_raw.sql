{#
    Reconciliation: Σ amount of the revenue channels of fct_revenue_by_channel equals
    completed payments minus refunds in raw up to as_of, per website: the same money as
    fct_daily_snapshot's collected_revenue, counted through another path.
#}
with

raw_payments as (select * from {{ source('raw', 'payments_payment') }}),
raw_refunds as (select * from {{ source('raw', 'payments_refund') }}),
raw_websites as (select * from {{ source('raw', 'accounts_website') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
channels as (select * from {{ ref('fct_revenue_by_channel') }}),

raw_movements as (

    select
        raw_payments.website_id,
        raw_payments.completed_at as moved_at,
        raw_payments.amount
    from raw_payments
    where raw_payments.completed_at is not null and raw_payments.status in ('completed', 'refunded')
    union all
    select
        raw_payments.website_id,
        raw_refunds.created_at as moved_at,
        -raw_refunds.amount as amount
    from raw_refunds
    inner join raw_payments on raw_refunds.payment_id = raw_payments.id

),

raw_totals as (

    select
        raw_movements.website_id,
        sum(raw_movements.amount) as amount
    from raw_movements
    inner join raw_websites on raw_movements.website_id = raw_websites.id
    inner join websites on raw_movements.website_id = websites.website_id
    where cast({{ local_timestamp('raw_movements.moved_at', 'raw_websites.timezone') }} as date) <= websites.as_of_date
    group by raw_movements.website_id

),

mart_totals as (

    select
        website_id,
        sum(amount) as amount
    from channels
    where kind = 'revenue'
    group by website_id

),

final as (

    select
        coalesce(raw_totals.website_id, mart_totals.website_id) as website_id,
        raw_totals.amount as raw_amount,
        mart_totals.amount as mart_amount
    from raw_totals
    full outer join mart_totals on raw_totals.website_id = mart_totals.website_id
    where coalesce(raw_totals.amount, 0) <> coalesce(mart_totals.amount, 0)

)

select * from final
