{#
    One row per campaign, variant and recipient customer: whether the customer converted,
    i.e. placed an order the campaign influenced.
#}
with

recipients as (select * from {{ ref('int_campaign_recipients_dated') }}),
influenced as (select * from {{ ref('int_campaign_orders_influenced') }}),

recipient_users as (

    select distinct
        campaign_id,
        website_id,
        variant,
        user_id
    from recipients

),

converted_users as (

    select distinct
        campaign_id,
        user_id
    from influenced

),

final as (

    select
        recipient_users.campaign_id,
        recipient_users.website_id,
        recipient_users.variant,
        recipient_users.user_id,
        converted_users.user_id is not null as has_converted
    from recipient_users
    left join converted_users
        on recipient_users.campaign_id = converted_users.campaign_id
        and recipient_users.user_id = converted_users.user_id

)

select * from final
