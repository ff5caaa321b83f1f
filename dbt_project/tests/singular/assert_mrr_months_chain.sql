{#
    fct_mrr_movements_monthly: every month opens with the MRR the website's month before
    closed with, and its months follow each other without a gap. Fails with the rows that
    do not.
#}
with

movements as (select * from {{ ref('fct_mrr_movements_monthly') }}),

chained as (

    select
        website_id,
        month,
        opening_mrr,
        lag(closing_mrr) over (partition by website_id order by month) as previous_closing_mrr,
        lag(month) over (partition by website_id order by month) as previous_month
    from movements

),

final as (

    select *
    from chained
    where
        previous_month is not null
        and (
            opening_mrr <> previous_closing_mrr
            or month <> cast({{ dbt.dateadd('month', 1, 'previous_month') }} as date)
        )

)

select * from final
