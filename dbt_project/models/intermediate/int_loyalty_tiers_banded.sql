{#
    The loyalty tier thresholds of the seed as bands: a tier is held from its threshold
    (inclusive) up to the next tier's (exclusive; NULL for the top tier).
#}
with

tiers as (select * from {{ ref('loyalty_tiers') }}),

final as (

    select
        tier,
        tier_rank,
        threshold_points,
        lead(threshold_points) over (order by threshold_points) as next_threshold_points
    from tiers

)

select * from final
