{#-
    A table rebuilt whole at every run, cheaply: the sums over each customer's history are
    int_customers_tallied's (incremental by customer: the loyalty points here), the rest
    int_customers_aggregated's; the current VIP tier, subscription and referrals read
    small tables.
-#}
with

customers as (select * from {{ ref('int_customers_aggregated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
vip_periods as (select * from {{ ref('int_vip_upgrades_periodized') }}),
subscription_periods as (select * from {{ ref('int_subscriptions_periodized') }}),
tallies as (select * from {{ ref('int_customers_tallied') }}),
referrals as (select * from {{ ref('int_referrals_dated') }}),

{#- "Current" = held at the very end of as_of: started before that instant, not ended before it. -#}
vip_current as (

    select
        vip_periods.user_id,
        max(vip_periods.tier) as vip_tier_current
    from vip_periods
    inner join websites on vip_periods.website_id = websites.website_id
    where vip_periods.valid_from < websites.as_of_end_at
        and (vip_periods.valid_to is null or vip_periods.valid_to >= websites.as_of_end_at)
    group by vip_periods.user_id

),

subscription_current as (

    select distinct subscription_periods.user_id
    from subscription_periods
    inner join websites on subscription_periods.website_id = websites.website_id
    where subscription_periods.active_from < websites.as_of_end_at
        and (subscription_periods.active_to is null or subscription_periods.active_to >= websites.as_of_end_at)

),

referrals_made as (

    select
        referrals.referrer_user_id as user_id,
        count(*) as referral_count
    from referrals
    inner join websites on referrals.website_id = websites.website_id
    where referrals.status in ('qualified', 'rewarded')
        and referrals.created_date <= websites.as_of_date
    group by referrals.referrer_user_id

),

final as (

    select
        customers.user_id,
        customers.website_id,
        customers.as_of_date,
        cast(customers.total_orders as {{ dbt.type_bigint() }}) as total_orders,
        cast(customers.total_spent as {{ type_decimal(18, 2) }}) as total_spent,
        customers.first_order_at,
        customers.last_order_at,
        {{ money_ratio('customers.total_spent', 'customers.total_orders') }} as average_order_value,
        cast(customers.lifetime_value as {{ type_decimal(18, 2) }}) as lifetime_value,
        cast(customers.days_since_last_order as {{ dbt.type_int() }}) as days_since_last_order,
        customers.churn_risk,
        cast(customers.lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(customers.ltv_segment as {{ dbt.type_string() }}) as ltv_segment,
        cast(customers.ltv_segment_order as {{ dbt.type_int() }}) as ltv_segment_order,
        cast(vip_current.vip_tier_current as {{ dbt.type_string() }}) as vip_tier_current,
        subscription_current.user_id is not null as subscription_active,
        cast(coalesce(tallies.loyalty_points_earned, 0) as {{ dbt.type_bigint() }}) as loyalty_points_earned,
        cast(coalesce(tallies.loyalty_points_redeemed, 0) as {{ dbt.type_bigint() }}) as loyalty_points_redeemed,
        cast(coalesce(referrals_made.referral_count, 0) as {{ dbt.type_bigint() }}) as referral_count
    from customers
    left join vip_current on customers.user_id = vip_current.user_id
    left join subscription_current on customers.user_id = subscription_current.user_id
    left join tallies on customers.user_id = tallies.user_id
    left join referrals_made on customers.user_id = referrals_made.user_id

)

select * from final
