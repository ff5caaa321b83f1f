{#-
    Incremental by website, cohort and month (macros/incremental/slices.sql). A customer's
    cohort is int_customers_cohorted's (incremental by customer). A run rebuilds: every
    month of the cohorts a customer joined or left (its delta: the cohort size changed);
    the month of each changed delivered order (before and after the change) in each cohort
    of its customer (activity is by customer, on any website); and every month from the
    earlier of as_of's month and the last month the table holds for the website (as_of
    cuts the orders of those months only, and the cohorts that can gain or lose members
    start in them; a new month adds a row to every cohort). A website the table holds no
    row of is rebuilt whole.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'cohort_month', 'month_number'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched', 'int_customers_cohorted']) -%}
{%- set affected -%}
    with

    websites as (
        select
            website_id,
            as_of_date,
            cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as as_of_month
        from {{ upstream_relation('int_websites_as_of') }}
    ),

    cohorts as (
        select
            members.website_id,
            members.cohort_month,
            {{ dbt.datediff('members.cohort_month', 'websites.as_of_month', 'month') }} as last_month_number
        from {{ ref('int_customers_cohorted') }} as members
        inner join websites on members.website_id = websites.website_id
        where members.first_order_date <= websites.as_of_date
        group by members.website_id, members.cohort_month, websites.as_of_month
    ),

    cohort_months as (
        {{ offsets_up_to('cohorts', ['website_id', 'cohort_month'], 'last_month_number', 'month_number') }}
    ),

    {#- The rows there are now and the rows the table holds. #}
    cohort_rows as (
        select website_id, cohort_month, month_number from cohort_months
        union
        select website_id, cohort_month, month_number from {{ this }}
    ),

    members_changed as (
        {{ delta_changed(window, 'int_customers_cohorted', ['website_id', 'cohort_month']) }}
    ),

    cut_from as (
        select
            websites.website_id,
            least(
                websites.as_of_month,
                coalesce(
                    max(cast({{ dbt.dateadd('month', 'held.month_number', 'held.cohort_month') }} as date)),
                    cast('1900-01-01' as date)
                )
            ) as from_month
        from websites
        left join {{ this }} as held on websites.website_id = held.website_id
        group by websites.website_id, websites.as_of_month
    )

    select cohort_rows.website_id, cohort_rows.cohort_month, cohort_rows.month_number
    from cohort_rows
    inner join members_changed
        on cohort_rows.website_id = members_changed.website_id
        and cohort_rows.cohort_month = members_changed.cohort_month
    union
    select cohort_rows.website_id, cohort_rows.cohort_month, cohort_rows.month_number
    from cohort_rows
    inner join cut_from
        on cohort_rows.website_id = cut_from.website_id
        and cast({{ dbt.dateadd('month', 'cohort_rows.month_number', 'cohort_rows.cohort_month') }} as date)
        >= cut_from.from_month
    union
    select
        members.website_id,
        members.cohort_month,
        cast({{ dbt.datediff(
            'members.cohort_month', dbt.date_trunc('month', 'orders_changed.created_date'), 'month'
        ) }} as {{ dbt.type_int() }}) as month_number
    from ({{ delta_net_changed(window, 'int_orders_enriched', ['user_id', 'website_id', 'status', 'created_date']) }}) as orders_changed
    inner join {{ ref('int_customers_cohorted') }} as members on orders_changed.user_id = members.user_id
    where orders_changed.status = 'delivered'
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

orders as (select * from {{ ref('int_orders_to_date') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
cohorted as (select * from {{ ref('int_customers_cohorted') }}),

-- A delivered order dated before its website opened (a zeroed clock's 1970) is implausible:
-- the raw check plausible_dates names it and the run does not publish; it starts no cohort
-- and counts in no month, so it does not stretch the months back to it (as the daily
-- calendars do not).
delivered_orders as (

    select
        orders.website_id,
        orders.user_id,
        cast({{ dbt.date_trunc('month', 'orders.created_date') }} as date) as order_month
    from orders
    inner join websites on orders.website_id = websites.website_id
    where
        orders.status = 'delivered'
        and orders.created_date >= coalesce(websites.opened_date, orders.created_date)
        and {{ slices_match(window,
            "cast(" ~ dbt.dateadd('month', 's.month_number', 's.cohort_month') ~ " as date) = cast("
            ~ dbt.date_trunc('month', 'orders.created_date') ~ " as date)") }}

),

{#- The customers whose first delivered order on the website is up to as_of. -#}
members as (

    select
        cohorted.website_id,
        cohorted.user_id,
        cohorted.cohort_month
    from cohorted
    inner join websites on cohorted.website_id = websites.website_id
    where
        cohorted.first_order_date <= websites.as_of_date
        and {{ slices_match(window, 's.website_id = cohorted.website_id and s.cohort_month = cohorted.cohort_month') }}

),

cohorts as (

    select
        members.website_id,
        members.cohort_month,
        count(*) as cohort_size,
        {{ dbt.datediff(
            'members.cohort_month',
            dbt.date_trunc('month', 'max(websites.as_of_date)'),
            'month'
        ) }} as last_month_number
    from members
    inner join websites on members.website_id = websites.website_id
    group by members.website_id, members.cohort_month

),

cohort_offsets as (

    {{ offsets_up_to('cohorts', ['website_id', 'cohort_month', 'cohort_size'], 'last_month_number', 'month_number') }}

),

cohort_months as (

    select * from cohort_offsets as changed  -- noqa: AL05
    where {{ slices_filter(window, {
        'website_id': 'changed.website_id',
        'cohort_month': 'changed.cohort_month',
        'month_number': 'changed.month_number',
    }) }}

),

activity as (

    select
        members.website_id,
        members.cohort_month,
        {{ dbt.datediff('members.cohort_month', 'delivered_orders.order_month', 'month') }} as month_number,  -- noqa: LT05
        count(distinct members.user_id) as active_customers
    from members
    inner join delivered_orders on members.user_id = delivered_orders.user_id
    group by members.website_id, members.cohort_month, delivered_orders.order_month

),

final as (

    select
        cohort_months.website_id,
        cohort_months.cohort_month,
        cohort_months.month_number,
        cast(cohort_months.cohort_size as {{ dbt.type_bigint() }}) as cohort_size,
        cast(coalesce(activity.active_customers, 0) as {{ dbt.type_bigint() }}) as active_customers,
        {{ pct('coalesce(activity.active_customers, 0)', 'cohort_months.cohort_size') }} as retention_rate
    from cohort_months
    left join activity
        on cohort_months.website_id = activity.website_id
        and cohort_months.cohort_month = activity.cohort_month
        and cohort_months.month_number = activity.month_number

)

select * from final
