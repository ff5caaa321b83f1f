{#
    A plain table: referrals are few (one per referred customer), and the referees' orders
    are read through a semi-join on them; the pipeline skips it when no input changed.
#}
with

referrals as (select * from {{ ref('int_referrals_dated') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
orders as (select * from {{ ref('int_orders_to_date') }}),

{#- Referrals made by as_of; rewarded counts a reward granted by then (rewarded_date). -#}
made as (

    select
        referrals.referral_id,
        referrals.website_id,
        referrals.referee_user_id,
        referrals.created_at,
        cast({{ dbt.date_trunc('month', 'referrals.created_date') }} as date) as month,  -- noqa: RF04
        referrals.status in ('qualified', 'rewarded') as is_qualified,
        referrals.status = 'rewarded'
        and coalesce(referrals.rewarded_date, referrals.created_date) <= websites.as_of_date as is_rewarded,
        referrals.bonus_amount
    from referrals
    inner join websites on referrals.website_id = websites.website_id
    where referrals.created_date <= websites.as_of_date

),

{#- The referee's delivered orders created in [created_at, created_at + 90 days). -#}
referee_orders as (

    select
        made.referral_id,
        count(*) as referee_orders,
        sum(orders.total) as referee_revenue
    from made
    inner join orders on made.referee_user_id = orders.user_id
    where orders.status = 'delivered'
        and orders.created_at >= made.created_at
        and orders.created_at < {{ dbt.dateadd('day', 90, 'made.created_at') }}
    group by made.referral_id

),

monthly as (

    select
        made.website_id,
        made.month,
        count(*) as referrals_created,
        sum(case when made.is_qualified or made.is_rewarded then 1 else 0 end) as qualified,
        sum(case when made.is_rewarded then 1 else 0 end) as rewarded,
        coalesce(sum(case when made.is_rewarded then made.bonus_amount end), 0) as bonus_amount,
        coalesce(sum(referee_orders.referee_orders), 0) as referee_orders_90d,
        coalesce(sum(referee_orders.referee_revenue), 0) as referee_revenue_90d
    from made
    left join referee_orders on made.referral_id = referee_orders.referral_id
    group by made.website_id, made.month

),

final as (

    select
        website_id,
        month,
        cast(referrals_created as {{ dbt.type_bigint() }}) as referrals_created,
        cast(qualified as {{ dbt.type_bigint() }}) as qualified,
        cast(rewarded as {{ dbt.type_bigint() }}) as rewarded,
        {{ pct('qualified', 'referrals_created') }} as qualification_rate,
        {{ pct('rewarded', 'qualified') }} as reward_rate,
        cast(bonus_amount as {{ type_decimal(18, 2) }}) as bonus_amount,
        cast(referee_orders_90d as {{ dbt.type_bigint() }}) as referee_orders_90d,
        cast(referee_revenue_90d as {{ type_decimal(18, 2) }}) as referee_revenue_90d
    from monthly

)

select * from final
