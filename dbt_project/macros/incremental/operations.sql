{#
    Affected slices of the operations, VIP and channel marts (macros/incremental/slices.sql):
    the website days that changed rows of raw tables fall on, before and after the change.
    A raw row's business date needs its website's time zone at that instant, which the
    int_<table>_dated views find in int_website_versions (with_business_dates); these
    macros date the changed rows, before images included, the same way.
#}

{#- The website days (website_id, business_date) of the instants `timestamps` of `rows`
    (SQL with website_id and those columns): each instant's date in the time zone its
    website had then, as with_business_dates dates it. -#}
{% macro website_days_of(rows, timestamps) -%}
    {%- for column in timestamps %}
    {%- set instant = 'cast(located.' ~ column ~ ' as ' ~ type_timestamp_tz() ~ ')' %}
    select
        located.website_id,
        {{ business_date(instant, 'zones.timezone') }} as business_date
    from ({{ rows }}) as located
    inner join {{ upstream_relation('int_website_versions') }} as zones
        on located.website_id = zones.website_id
        and (zones.valid_from is null or {{ instant }} >= zones.valid_from)
        and (zones.valid_to is null or {{ instant }} < zones.valid_to)
    where located.{{ column }} is not null
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- The website days of the changed rows of raw `table` (a table with its own website_id)
    at `timestamps`, before and after the change. -#}
{% macro raw_days_changed(window, table, timestamps) -%}
    {%- set columns = {'website_id': dbt.type_bigint()} -%}
    {%- for column in timestamps -%}
        {%- do columns.update({column: type_timestamp_tz()}) -%}
    {%- endfor -%}
    {{ website_days_of(raw_changed(window, table, columns), timestamps) }}
{%- endmacro %}

{#- The keys of raw `parent` (with id and website_id) whose website changed in the window:
    inserted, deleted, or updated to another website_id. -#}
{% macro parents_moved(window, parent) -%}
    select parents_changed.row_id as id
    from ({{ raw_changes(window, parent) }}) as parents_changed
    left join {{ raw_relation(parent) }} as parents_now on parents_changed.row_id = parents_now.id
    where parents_changed.before is null
        or parents_now.id is null
        or cast({{ json_text('parents_changed.before', 'website_id') }} as {{ dbt.type_bigint() }})
        is distinct from parents_now.website_id
{%- endmacro %}

{#- The website days of the rows of raw `table` whose website is their parent's (`parent`,
    a raw table with id and website_id, named by the column `parent_key`), at `timestamps`:
    the changed rows before and after the change, and every row of a parent that moved
    website; each located through its parent as it is and as it was before any change of
    the window (a superset: both websites when in doubt). -#}
{% macro child_days_changed(window, table, parent, parent_key, timestamps) -%}
    {%- set columns = {parent_key: dbt.type_bigint()} -%}
    {%- for column in timestamps -%}
        {%- do columns.update({column: type_timestamp_tz()}) -%}
    {%- endfor -%}
    {%- set located -%}
        select
            {%- for column in timestamps %}
            children.{{ column }},
            {%- endfor %}
            parents.website_id
        from (
            {{ raw_changed(window, table, columns) }}
            union
            select
                {%- for column in columns %}
                children_moved.{{ column }}{{ ',' if not loop.last }}
                {%- endfor %}
            from {{ raw_relation(table) }} as children_moved
            where children_moved.{{ parent_key }} in (
                select moved.id from ({{ parents_moved(window, parent) }}) as moved
            )
        ) as children
        inner join (
            select parents_now.id, parents_now.website_id
            from {{ raw_relation(parent) }} as parents_now
            union
            select
                parents_before.row_id as id,
                cast({{ json_text('parents_before.before', 'website_id') }} as {{ dbt.type_bigint() }})
                    as website_id
            from ({{ raw_changes(window, parent) }}) as parents_before
            where parents_before.before is not null
        ) as parents on children.{{ parent_key }} = parents.id
    {%- endset -%}
    {{ website_days_of(located, timestamps) }}
{%- endmacro %}


{#- A date before every day `as_of_changed` can find new for a sparse daily model
    (`existing`, with website_id and business_date): the earliest of the last days it holds
    per website of `websites` ('1900-01-01' for a website it holds nothing of, and outside
    a 'changes' run). A constant, so the database filters the rows of a view read by
    as_of_changed in each of its scans, before joins and unions. -#}
{% macro held_through(window, existing, websites) %}
    {%- if window.mode != 'changes' -%}{{ return('1900-01-01') }}{%- endif -%}
    {%- set found = run_query(
        "select coalesce(min(coalesce(held.last_day, cast('1900-01-01' as date))), cast('1900-01-01' as date))"
        ~ " from " ~ websites ~ " as websites left join (select website_id, max(business_date) as last_day from "
        ~ existing ~ " group by website_id) as held on websites.website_id = held.website_id") -%}
    {{ return(found.columns[0].values()[0] | string) }}
{% endmacro %}
