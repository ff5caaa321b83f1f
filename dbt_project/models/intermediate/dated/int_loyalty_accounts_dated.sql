{#
    Loyalty accounts with the business date they were opened on. Business dates are the
    website's (with_business_dates).
#}
with

accounts as (select * from {{ ref('stg_loyalty_accounts') }}),

final as (

    {{ with_business_dates('accounts', ['created_at']) }}

)

select * from final
