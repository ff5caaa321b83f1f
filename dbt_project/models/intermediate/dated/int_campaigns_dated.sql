{#
    Campaigns with the business dates of their window's start and end. Business dates
    are the website's (with_business_dates).
#}
with

campaigns as (select * from {{ ref('stg_campaigns') }}),

final as (

    {{ with_business_dates('campaigns', {'starts_at': 'start_date', 'ends_at': 'end_date'}) }}

)

select * from final
