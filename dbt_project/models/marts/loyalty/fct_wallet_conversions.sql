{#-
    Incremental by website and business day (macros/incremental/slices.sql): a run rebuilds
    the days int_redemptions_enriched removed or added redemptions on (a change, or as_of
    moving, which that model maps to its redemptions).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='slices',
    unique_key=['website_id', 'business_date'],
    on_schema_change='fail',
    post_hook="{{ slices_done() }}",
) }}

{%- set window = slices_window(mapped=['int_redemptions_enriched']) -%}
{%- set affected -%}
    {{ delta_changed(window, 'int_redemptions_enriched', ['website_id', 'business_date']) }}
{%- endset -%}
{%- do slices_stage(window, affected) -%}

with

redemptions as (
    select changed.* from {{ ref('int_redemptions_enriched') }} as changed
    where {{ slices_filter(window, {'website_id': 'changed.website_id', 'business_date': 'changed.business_date'}) }}
),

final as (

    select
        website_id,
        business_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as redemption_count,
        cast(count(distinct loyalty_account_id) as {{ dbt.type_bigint() }}) as converting_clients,
        cast(sum(points_spent) as {{ dbt.type_bigint() }}) as points_spent,
        cast(sum(value_amount) as {{ type_decimal(18, 2) }}) as value_amount
    from redemptions
    where item_type = 'wallet_credit'
    group by website_id, business_date

)

select * from final
