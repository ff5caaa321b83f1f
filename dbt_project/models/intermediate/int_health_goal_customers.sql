{#-
    The customers counted under each dietary goal at as_of (METRICS.md, health profiles):
    one row per customer with a health profile filled in before as_of's end (a profile
    made later is not known at as_of), with the profile's current goal (the source keeps
    no goal history) and the customer's website. Only the goal: no allergy, calorie
    target or activity level. Shared by fct_health_goals and fct_health_goal_meals.
-#}

with

profiles as (select * from {{ ref('stg_health_profiles') }}),
users as (select * from {{ ref('stg_users') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

final as (

    select
        users.website_id,
        profiles.dietary_goal,
        profiles.user_id
    from profiles
    inner join users on profiles.user_id = users.user_id
    inner join websites on users.website_id = websites.website_id
    where profiles.created_at < websites.as_of_end_at

)

select * from final
