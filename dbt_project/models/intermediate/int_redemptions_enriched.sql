{#
    Completed redemptions up to as_of with their item (name, category, type, points
    required, value) and the local wall-clock weekday and hour they were made at, for
    the redemption marts.
#}
{#-
    Incremental by redemption (macros/incremental/slices.sql): a run rebuilds the
    redemptions that changed, those of the accounts whose website changed (or that came or
    went: the website gives the business date and the clock), those of the items that
    changed (name, category, type, points, value), and the completed ones that a move of
    as_of brought in (dated after the last day the table holds for their website, up to
    as_of) or took out. Websites (time zones) are not mapped: a change of one rebuilds
    every slice.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['redemption_id'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['loyalty_redemption', 'loyalty_loyaltyaccount', 'loyalty_redemptionitem']) -%}
{%- set completed_rows -%}
    (
        select
            completed_rows.redemption_id,
            completed_rows.website_id,
            completed_rows.created_date,
            completed_rows.created_at
        from {{ ref('int_redemptions_dated') }} as completed_rows
        where completed_rows.status = 'completed'
    )
{%- endset -%}
{%- set affected -%}
    select row_id as redemption_id from ({{ raw_changes(window, 'loyalty_redemption') }}) as redemptions_changed
    union
    select redemptions_of_accounts.id as redemption_id
    from {{ raw_relation('loyalty_redemption') }} as redemptions_of_accounts
    where redemptions_of_accounts.account_id in ({{ accounts_moved(window) }})
    union
    select redemptions_of_items.id as redemption_id
    from {{ raw_relation('loyalty_redemption') }} as redemptions_of_items
    where redemptions_of_items.item_id in (
        select row_id from ({{ raw_changes(window, 'loyalty_redemptionitem') }}) as items_changed
    )
    union
    {{ as_of_moved(window, this, 'business_date', completed_rows, 'created_date', ['redemption_id'],
        ref('int_websites_as_of'), since='created_at') }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

redemptions as (
    select changed.* from {{ ref('int_redemptions_dated') }} as changed
    where {{ slices_filter(window, {'redemption_id': 'changed.redemption_id'}) }}
),
items as (select * from {{ ref('stg_redemption_items') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),
versions as (select * from {{ ref('int_website_versions') }}),

completed as (

    select
        redemptions.redemption_id,
        redemptions.website_id,
        redemptions.loyalty_account_id,
        redemptions.redemption_item_id,
        redemptions.points_spent,
        redemptions.created_at,
        redemptions.created_date as business_date,
        -- The wall clock of the zone in force when it was made (int_website_versions).
        {{ local_timestamp('redemptions.created_at', 'versions.timezone') }} as created_at_local
    from redemptions
    inner join websites on redemptions.website_id = websites.website_id
    left join versions
        on redemptions.website_id = versions.website_id
        and (versions.valid_from is null or redemptions.created_at >= versions.valid_from)
        and (versions.valid_to is null or redemptions.created_at < versions.valid_to)
    where redemptions.status = 'completed'
        and redemptions.created_date <= websites.as_of_date

),

final as (

    select
        completed.redemption_id,
        completed.website_id,
        completed.loyalty_account_id,
        completed.redemption_item_id,
        items.item_name,
        items.category,
        items.item_type,
        items.points_required,
        items.value_amount,
        completed.points_spent,
        completed.created_at,
        completed.business_date,
        {{ iso_weekday('completed.created_at_local') }} as local_weekday,
        cast(extract(hour from completed.created_at_local) as {{ dbt.type_int() }}) as local_hour
    from completed
    left join items on completed.redemption_item_id = items.redemption_item_id

)

select * from final
