{#
    Support tickets with the business dates they were opened and resolved on. Business
    dates are the website's (with_business_dates).
#}
with

tickets as (select * from {{ ref('stg_support_tickets') }}),

final as (

    {{ with_business_dates('tickets', ['created_at', 'resolved_at']) }}

)

select * from final
