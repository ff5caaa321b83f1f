{#
    Refunds with their payment's website and user, and the business date they were made
    on. payments_refund has no website_id: it is its payment's, and so is the time zone
    of its business dates. A row whose payment is missing keeps NULLs there (the
    not_null test on website_id reports it).
#}
with

refunds as (select * from {{ ref('stg_refunds') }}),
payments as (select * from {{ ref('stg_payments') }}),

located as (

    select
        refunds.*,
        payments.website_id,
        payments.user_id
    from refunds
    left join payments on refunds.payment_id = payments.payment_id

),

final as (

    {{ with_business_dates('located', ['created_at']) }}

)

select * from final
