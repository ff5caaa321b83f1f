{#
    Nutrition consultations with the business dates they are scheduled and were booked
    on. Business dates are the website's (with_business_dates).
#}
with

consultations as (select * from {{ ref('stg_consultations') }}),

final as (

    {{ with_business_dates('consultations', ['scheduled_at', 'created_at']) }}

)

select * from final
