with

source as (

    select * from {{ source('raw', 'corporate_contract') }}

),

websites as (

    select
        cast(id as bigint) as website_id,
        cast(timezone as varchar) as timezone
    from {{ source('raw', 'accounts_website') }}

),

renamed as (

    select
        ----------  ids
        cast(id as bigint) as contract_id,
        cast(website_id as bigint) as website_id,

        ----------  text
        cast(company_name as varchar) as company_name,
        cast(billing_cycle as varchar) as billing_cycle,
        cast(status as varchar) as status,

        ----------  numbers
        cast(contract_value as decimal(12, 2)) as contract_value,

        ----------  dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,

        ----------  timestamps
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

),

final as (

    select
        ----------  ids
        renamed.contract_id,
        renamed.website_id,

        ----------  text
        renamed.company_name,
        renamed.billing_cycle,
        renamed.status,

        ----------  numbers
        renamed.contract_value,

        ----------  dates
        renamed.start_date,
        renamed.end_date,

        ----------  timestamps
        renamed.created_at,
        renamed.updated_at,

        ----------  business dates (the website's time zone)
        {{ business_date('renamed.created_at', 'websites.timezone') }} as created_date
    from renamed
    left join websites on renamed.website_id = websites.website_id

)

select * from final
