{#
    Users with the business date they joined on. Business dates are the website's
    (with_business_dates).
#}
with

users as (select * from {{ ref('stg_users') }}),

final as (

    {{ with_business_dates('users', ['joined_at']) }}

)

select * from final
