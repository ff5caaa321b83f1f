{#
    Corporate contracts with the days they were active by as_of: from start_date to the
    earliest of end_date, as_of and, for a cancelled contract, the business date of its
    last update (the source keeps no cancellation time). active_end_date < start_date: not
    started by as_of.
#}
with

contracts as (select * from {{ ref('stg_corporate_contracts') }}),
websites as (select * from {{ ref('int_websites_as_of') }}),

final as (

    select
        contracts.*,
        websites.as_of_date,
        least(
            contracts.end_date,
            websites.as_of_date,
            case
                when contracts.status = 'cancelled'
                    then {{ business_date('contracts.updated_at', 'websites.timezone') }}
                else contracts.end_date
            end
        ) as active_end_date
    from contracts
    inner join websites on contracts.website_id = websites.website_id

)

select * from final
