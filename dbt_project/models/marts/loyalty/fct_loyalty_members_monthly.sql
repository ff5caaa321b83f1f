{#-
    Incremental by website and month (macros/incremental/slices.sql): a run rebuilds the
    months of the orders int_orders_enriched removed or added (before and after the
    change); the months of every order of the customers whose membership began at another
    instant, began or ended (int_loyalty_members_enrolled's delta); and every month from
    the earlier of as_of's month and the last month the table holds (as_of cuts the orders
    of those months only; a new month joins the calendar).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'month'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set month_of_created = 'cast(' ~ dbt.date_trunc('month', 'changed.created_date') ~ ' as date)' -%}
{%- set month_calendar -%}
    (
        select distinct
            calendar_days.website_id,
            cast({{ dbt.date_trunc('month', 'calendar_days.business_date') }} as date) as month
        from {{ ref('int_website_days_spined') }} as calendar_days
    )
{%- endset -%}
{%- set window = slices_window(mapped=['int_orders_enriched', 'int_loyalty_members_enrolled', 'orders_order']) -%}
{%- set affected -%}
    select orders_changed.website_id, cast({{ dbt.date_trunc('month', 'orders_changed.created_date') }} as date) as month
    from ({{ delta_changed(window, 'int_orders_enriched', ['website_id', 'created_date']) }}) as orders_changed
    union
    select orders_of_members.website_id, cast({{ dbt.date_trunc('month', 'orders_of_members.created_date') }} as date) as month
    from {{ ref('int_orders_enriched') }} as orders_of_members
    where orders_of_members.user_id in (
        select members_changed.user_id
        from ({{ delta_changed(window, 'int_loyalty_members_enrolled', ['user_id']) }}) as members_changed
    )
    union
    select recent.website_id, recent.month
    from (
        select calendar_months.website_id, calendar_months.month from {{ month_calendar }} as calendar_months
        union
        select held.website_id, held.month from {{ this }} as held
    ) as recent
    inner join (
        select
            websites.website_id,
            least(
                cast({{ dbt.date_trunc('month', 'websites.as_of_date') }} as date),
                coalesce(max(held.month), cast({{ dbt.date_trunc('month', 'websites.as_of_date') }} as date))
            ) as from_month
        from {{ ref('int_websites_as_of') }} as websites
        left join {{ this }} as held on websites.website_id = held.website_id
        group by websites.website_id, websites.as_of_date
    ) as starts
        on recent.website_id = starts.website_id
        and recent.month >= starts.from_month
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

months as (
    select changed.* from {{ month_calendar }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'month': 'changed.month'}) }}
),
orders as (
    select changed.* from {{ ref('int_orders_to_date') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'month': month_of_created}) }}
),
members as (select * from {{ ref('int_loyalty_members_enrolled') }}),

member_since as (

    select
        user_id,
        min(first_entry_at) as first_entry_at
    from members
    group by user_id

),

grouped_orders as (

    select
        orders.website_id,
        cast({{ dbt.date_trunc('month', 'orders.created_date') }} as date) as month,  -- noqa: RF04
        case
            when member_since.first_entry_at <= orders.created_at then 'member'
            else 'non_member'
        end as member_group,
        orders.user_id,
        orders.total
    from orders
    left join member_since on orders.user_id = member_since.user_id
    where orders.is_counted

),

group_months as (

    select
        website_id,
        month,
        member_group,
        count(*) as orders,
        count(distinct user_id) as customers,
        sum(total) as gross_revenue
    from grouped_orders
    group by website_id, month, member_group

),

member_groups as (

    select cast('member' as {{ dbt.type_string() }}) as member_group
    union all
    select cast('non_member' as {{ dbt.type_string() }}) as member_group

),

final as (

    select
        months.website_id,
        months.month,
        member_groups.member_group,
        cast(coalesce(group_months.orders, 0) as {{ dbt.type_bigint() }}) as orders,
        cast(coalesce(group_months.customers, 0) as {{ dbt.type_bigint() }}) as customers,
        cast(coalesce(group_months.gross_revenue, 0) as {{ type_decimal(18, 2) }}) as gross_revenue,
        {{ money_ratio('group_months.gross_revenue', 'group_months.orders') }} as average_order_value,
        cast({{ decimal_div('group_months.orders', 'group_months.customers', 2) }} as {{ type_decimal(12, 2) }})
            as orders_per_customer
    from months
    cross join member_groups
    left join group_months
        on months.website_id = group_months.website_id
        and months.month = group_months.month
        and member_groups.member_group = group_months.member_group

)

select * from final
