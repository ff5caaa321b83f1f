{#
    Payments with the business dates they were created and completed on. Business dates
    are the website's (with_business_dates).
#}
with

payments as (select * from {{ ref('stg_payments') }}),

final as (

    {{ with_business_dates('payments', ['created_at', 'completed_at']) }}

)

select * from final
