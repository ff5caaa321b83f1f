{#
    The currency and time zone of each website over time, from websites_snapshot: one
    interval per version, [valid_from, valid_to), NULL meaning unbounded. The first
    version is in force since always (nothing older is known); a later one from its
    change, dated by the row's updated_at (Django's save bumps it) when that falls
    between the run that last saw the old values and the run that saw the new ones,
    else by the run that saw them. Each version lasts until the next one starts (a
    website deleted and restored keeps one continuous history). A website the snapshot
    has not seen yet (models built without it) has one version, its current row.
#}
with

snapshot as (select * from {{ ref('websites_snapshot') }}),
websites as (select * from {{ ref('stg_websites') }}),

versions as (

    select
        cast(id as {{ dbt.type_bigint() }}) as website_id,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(timezone as {{ dbt.type_string() }}) as timezone,
        cast(updated_at as {{ type_timestamp_tz() }}) as updated_at,
        {{ naive_utc_to_instant('dbt_valid_from') }} as seen_at
    from snapshot

),

ordered as (

    select
        website_id,
        currency,
        timezone,
        updated_at,
        seen_at,
        lag(seen_at) over (partition by website_id order by seen_at) as previous_seen_at
    from versions

),

started as (

    select
        website_id,
        currency,
        timezone,
        case
            when previous_seen_at is null then null
            when updated_at > previous_seen_at and updated_at <= seen_at then updated_at
            else seen_at
        end as valid_from
    from ordered

),

snapshotted as (

    select
        website_id,
        currency,
        timezone,
        valid_from,
        lead(valid_from) over (partition by website_id order by valid_from nulls first)
            as valid_to
    from started

),

unseen as (

    select
        websites.website_id,
        websites.currency,
        websites.timezone,
        cast(null as {{ type_timestamp_tz() }}) as valid_from,
        cast(null as {{ type_timestamp_tz() }}) as valid_to
    from websites
    left join snapshotted on websites.website_id = snapshotted.website_id
    where snapshotted.website_id is null

),

final as (

    select * from snapshotted
    union all
    select * from unseen

)

select * from final
