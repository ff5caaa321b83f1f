{#
    Completed redemptions up to as_of with their item (name, category, type, points
    required, value) and the local wall-clock weekday and hour they were made at, for
    the redemption marts.
#}
with

redemptions as (select * from {{ ref('int_redemptions_dated') }}),
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
