{#
    Loyalty ledger entries with their account's website and holder, and the business
    date they were written on. loyalty_loyaltytransaction has no website_id: it is its
    loyalty account's, and so is the time zone of its business dates. A row whose
    loyalty account is missing keeps NULLs there (the not_null test on website_id
    reports it).
#}
with

ledger as (select * from {{ ref('stg_loyalty_transactions') }}),
accounts as (select * from {{ ref('stg_loyalty_accounts') }}),

located as (

    select
        ledger.*,
        accounts.website_id,
        accounts.user_id
    from ledger
    left join accounts on ledger.loyalty_account_id = accounts.loyalty_account_id

),

final as (

    {{ with_business_dates('located', ['created_at']) }}

)

select * from final
