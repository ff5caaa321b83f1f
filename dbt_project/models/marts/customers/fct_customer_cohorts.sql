{#-
    Incremental by website, cohort and month (macros/incremental/slices.sql). A customer's
    cohort is int_customers_cohorted's (incremental by customer: its delta tells which
    customers joined or left which cohort). A run rebuilds:
      - every month from the earlier of as_of's month and the last month the table holds
        for the website (as_of cuts the orders of those months only, and the cohorts that
        can gain or lose members start in them; a new month adds a row to every cohort; a
        website the table holds no row of is rebuilt whole);
      - for each changed delivered order (before and after the change: the net of
        int_orders_enriched's delta), its month in each cohort of its customer (activity
        is by customer, on any website);
      - every month of the cohorts a customer joined or left: their size changed.
    is_partial_month (the month as_of falls in, unless as_of is its last day) changes only
    in the rows of as_of's month and of the month the table held last: the first kind.
    Active customers are counted again in the rows of the first two kinds and, for the
    customers who joined or left a cohort, in the months they had a delivered order in
    (now or before the changes); the other rebuilt rows keep the count the table holds.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'cohort_month', 'month_number'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_orders_enriched', 'int_customers_cohorted']) -%}
{%- set cohorted = ref('int_customers_cohorted') -%}
{%- set rows_and_changes -%}
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
        from {{ cohorted }} as members
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
    ),

    orders_changed as (
        select user_id, cast({{ dbt.date_trunc('month', 'created_date') }} as date) as order_month
        from ({{ delta_net_changed(window, 'int_orders_enriched',
            ['user_id', 'website_id', 'status', 'created_date']) }}) as changed
        where status = 'delivered'
    ),

    {#- Customers who joined or left a cohort: the cohort before and after. #}
    moved as (
        {{ delta_changed(window, 'int_customers_cohorted', ['user_id', 'website_id', 'cohort_month']) }}
    ),

    {#- The months they had a delivered order in, now or before the changes. #}
    moved_months as (
        select orders.user_id, cast({{ dbt.date_trunc('month', 'orders.created_date') }} as date) as order_month
        from {{ upstream_relation('int_orders_enriched') }} as orders
        where orders.status = 'delivered' and orders.user_id in (select moved.user_id from moved)
        union
        select orders_changed.user_id, orders_changed.order_month
        from orders_changed
        where orders_changed.user_id in (select moved.user_id from moved)
    ),

    recounted as (
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
            cast({{ dbt.datediff('members.cohort_month', 'orders_changed.order_month', 'month') }}
                as {{ dbt.type_int() }}) as month_number
        from orders_changed
        inner join {{ cohorted }} as members on orders_changed.user_id = members.user_id
        union
        select
            moved.website_id,
            moved.cohort_month,
            cast({{ dbt.datediff('moved.cohort_month', 'moved_months.order_month', 'month') }}
                as {{ dbt.type_int() }}) as month_number
        from moved
        inner join moved_months on moved.user_id = moved_months.user_id
    )
{%- endset -%}
{#- The rows whose active customers are counted again. -#}
{%- set recount -%}
    {{ rows_and_changes }}
    select website_id, cohort_month, month_number from recounted
{%- endset -%}
{%- set affected -%}
    {{ rows_and_changes }}
    select website_id, cohort_month, month_number from recounted
    union
    select cohort_rows.website_id, cohort_rows.cohort_month, cohort_rows.month_number
    from cohort_rows
    inner join moved
        on cohort_rows.website_id = moved.website_id
        and cohort_rows.cohort_month = moved.cohort_month
{%- endset -%}
{%- do slices_stage(window, affected) -%}
{%- set counted = window.mode == 'changes' -%}
{%- set in_recounted_months, in_recounted_rows, not_recounted = 'true', 'true', 'true' -%}
{%- set held_rows -%}
    (select website_id, cohort_month, month_number, cast(null as {{ dbt.type_bigint() }}) as active_customers
    from cohort_months where false)
{%- endset -%}
{%- if counted -%}
    {%- set held_rows = this -%}
    {%- set not_recounted -%}
        not exists (
            select 1 from recount
            where recount.website_id = held.website_id
                and recount.cohort_month = held.cohort_month
                and recount.month_number = held.month_number
        )
    {%- endset -%}
    {%- set in_recounted_months -%}
        cast({{ dbt.date_trunc('month', 'orders.created_date') }} as date) in (
            select cast({{ dbt.dateadd('month', 'recount.month_number', 'recount.cohort_month') }} as date)
            from recount
        )
    {%- endset -%}
    {%- set in_recounted_rows -%}
        exists (
            select 1 from recount
            where recount.website_id = members.website_id
                and recount.cohort_month = members.cohort_month
                and recount.month_number
                = {{ dbt.datediff('members.cohort_month', 'delivered_orders.order_month', 'month') }}
        )
    {%- endset -%}
{% endif %}

with

orders as (select * from {{ ref('int_orders_to_date') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
cohorted as (select * from {{ ref('int_customers_cohorted') }}),
{% if counted %}
{#- This run's rows to count again (a rebuilt row not among them keeps its count). #}
recount as (
    {{ recount }}
),
{% endif %}

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
        and {{ in_recounted_months }}

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

{#- The count the table holds, for the rebuilt rows not counted again. #}
held_counts as (

    select
        held.website_id,
        held.cohort_month,
        held.month_number,
        held.active_customers
    from {{ held_rows }} as held
    where {{ not_recounted }}

),

activity as (

    select
        members.website_id,
        members.cohort_month,
        {{ dbt.datediff('members.cohort_month', 'delivered_orders.order_month', 'month') }} as month_number,  -- noqa: LT05
        count(distinct members.user_id) as active_customers
    from members
    inner join delivered_orders on members.user_id = delivered_orders.user_id
    where {{ in_recounted_rows }}
    group by members.website_id, members.cohort_month, delivered_orders.order_month

),

final as (

    select
        cohort_months.website_id,
        cohort_months.cohort_month,
        cohort_months.month_number,
        cast(cohort_months.cohort_size as {{ dbt.type_bigint() }}) as cohort_size,
        cast(coalesce(activity.active_customers, held_counts.active_customers, 0) as {{ dbt.type_bigint() }})
            as active_customers,
        {{ pct('coalesce(activity.active_customers, held_counts.active_customers, 0)', 'cohort_months.cohort_size') }}
            as retention_rate,
        -- The month as_of falls in, unless as_of is its last day: only its first days are in.
        coalesce(
            cast({{ dbt.dateadd('month', 'cohort_months.month_number', 'cohort_months.cohort_month') }} as date)
            = cast({{ dbt.date_trunc('month', dbt.dateadd('day', 1, 'websites.as_of_date')) }} as date),
            false
        ) as is_partial_month
    from cohort_months
    inner join websites on cohort_months.website_id = websites.website_id
    left join activity
        on cohort_months.website_id = activity.website_id
        and cohort_months.cohort_month = activity.cohort_month
        and cohort_months.month_number = activity.month_number
    left join held_counts
        on cohort_months.website_id = held_counts.website_id
        and cohort_months.cohort_month = held_counts.cohort_month
        and cohort_months.month_number = held_counts.month_number

)

select * from final
