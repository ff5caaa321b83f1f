{#
    METRICS.md, Currency: each currency's LTV segments (seed ltv_segments) put every
    lifetime value in exactly one band: in sort_order, the first band has no lower bound,
    the last no upper bound, and each band starts where the one before ends. One row per
    band that breaks it, naming the currency and the band.
#}
with

segments as (select * from {{ ref('ltv_segments') }}),

ordered as (

    select
        currency,
        ltv_segment,
        lower_bound,
        upper_bound,
        lag(upper_bound) over (partition by currency order by sort_order) as previous_upper,
        row_number() over (partition by currency order by sort_order) as band_number,
        count(*) over (partition by currency) as bands
    from segments

),

final as (

    select
        currency,
        ltv_segment,
        lower_bound,
        upper_bound,
        previous_upper
    from ordered
    where
        (band_number = 1 and lower_bound is not null)
        or (band_number = bands and upper_bound is not null)
        or (band_number < bands and upper_bound is null)
        or (band_number > 1 and (lower_bound is null or lower_bound <> previous_upper))
        or (lower_bound >= upper_bound)

)

select * from final
