{#
    Every event of request 000's revenue streams, one row each, in one shape: completed
    payments and refunds (revenue channels), referral bonuses on the day they were
    rewarded and the item value of completed loyalty redemptions (incentives).
#}
{#- A view: one mart reads it, and writing its 11M rows (1M customers) costs more than
    its relationships test recomputing it. #}
{{ config(materialized='view') }}
with

money as (select * from {{ ref('int_payments_netted') }}),
referrals as (select * from {{ ref('int_referrals_dated') }}),
redemptions as (select * from {{ ref('int_redemptions_dated') }}),
items as (select * from {{ ref('stg_redemption_items') }}),

payment_events as (

    select
        website_id,
        business_date,
        channel,
        amount,
        payment_count as transaction_count
    from money

),

referral_events as (

    select
        website_id,
        rewarded_date as business_date,
        'referral' as channel,
        bonus_amount as amount,
        1 as transaction_count
    from referrals
    where rewarded_at is not null

),

loyalty_events as (

    select
        redemptions.website_id,
        redemptions.created_date as business_date,
        'loyalty' as channel,
        items.value_amount as amount,
        1 as transaction_count
    from redemptions
    left join items on redemptions.redemption_item_id = items.redemption_item_id
    where redemptions.status = 'completed'

),

final as (

    select * from payment_events
    union all
    select * from referral_events
    union all
    select * from loyalty_events

)

select * from final
