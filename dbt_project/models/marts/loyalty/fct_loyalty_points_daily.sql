with

days as (select * from {{ ref('int_loyalty_days_spined') }}),
account_days as (select * from {{ ref('int_loyalty_ledger_days_accumulated') }}),

{#- An account enters the active count the day its balance turns positive and leaves it
    the day it drops to zero or below: summing those +1/-1 per day and running the sum
    gives the active clients of every day without an account x day join. -#}
website_flows as (

    select
        website_id,
        business_date,
        sum(points_issued) as points_issued,
        sum(points_redeemed) as points_redeemed,
        sum(points_expired) as points_expired,
        sum(points_change) as points_change,
        sum(
            case when is_active then 1 else 0 end
            - case when was_active then 1 else 0 end
        ) as active_change
    from account_days
    group by website_id, business_date

),

final as (

    select
        days.website_id,
        days.business_date,
        cast(coalesce(website_flows.points_issued, 0) as {{ dbt.type_bigint() }}) as points_issued,
        cast(coalesce(website_flows.points_redeemed, 0) as {{ dbt.type_bigint() }}) as points_redeemed,
        cast(coalesce(website_flows.points_expired, 0) as {{ dbt.type_bigint() }}) as points_expired,
        cast(
            sum(coalesce(website_flows.points_change, 0)) over website_history as {{ dbt.type_bigint() }}
        ) as points_balance,
        cast(
            sum(coalesce(website_flows.active_change, 0)) over website_history as {{ dbt.type_bigint() }}
        ) as active_clients
    from days
    left join website_flows
        on days.website_id = website_flows.website_id
        and days.business_date = website_flows.business_date
    window website_history as (
        partition by days.website_id
        order by days.business_date
        rows between unbounded preceding and current row
    )

)

select * from final
