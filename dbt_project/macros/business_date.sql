{#
    The business date of a UTC timestamp: its calendar date in the website's IANA time
    zone (METRICS.md, Time). `at time zone` on a timestamptz gives the local wall clock
    in DuckDB and PostgreSQL alike; other engines get their own implementation.
#}
{% macro business_date(ts_column, tz_column) -%}
    {{ return(adapter.dispatch('business_date', 'mealytics')(ts_column, tz_column)) }}
{%- endmacro %}

{% macro default__business_date(ts_column, tz_column) -%}
    cast(({{ ts_column }} at time zone {{ tz_column }}) as date)
{%- endmacro %}


{#
    The instant a business date ends in the website's time zone (midnight of the next
    local day, as a timestamptz): "as of the end of day d" means strictly before it.
#}
{% macro business_day_end(date_column, tz_column) -%}
    {{ return(adapter.dispatch('business_day_end', 'mealytics')(date_column, tz_column)) }}
{%- endmacro %}

{% macro default__business_day_end(date_column, tz_column) -%}
    (cast(cast({{ date_column }} as date) + interval '1 day' as timestamp) at time zone {{ tz_column }})
{%- endmacro %}


{#
    The local wall-clock time of a UTC timestamp in the website's time zone, as a naive
    timestamp (for local weekdays and hours; a business date is business_date()).
#}
{% macro local_timestamp(ts_column, tz_column) -%}
    {{ return(adapter.dispatch('local_timestamp', 'mealytics')(ts_column, tz_column)) }}
{%- endmacro %}

{% macro default__local_timestamp(ts_column, tz_column) -%}
    cast(({{ ts_column }} at time zone {{ tz_column }}) as timestamp)
{%- endmacro %}


{# The ISO weekday of a (local) timestamp: 1 = Monday … 7 = Sunday, an integer. #}
{% macro iso_weekday(ts_column) -%}
    {{ return(adapter.dispatch('iso_weekday', 'mealytics')(ts_column)) }}
{%- endmacro %}

{% macro default__iso_weekday(ts_column) -%}
    cast(extract(isodow from {{ ts_column }}) as {{ dbt.type_int() }})
{%- endmacro %}


{#
    A relation with the business dates of some of its timestamps: every column of
    `relation` (a ref or a CTE with a `website_id`), then `<event>_date` for each
    `<event>_at` in `timestamps`, the date of that instant in the time zone the website
    had at that instant (int_website_versions: a later change of zone does not move
    what happened before it). A mapping names the dates itself ({'starts_at':
    'start_date'}). Staging stays a 1:1 view of its source: this join happens one layer
    up, in the int_<table>_dated views.
    A row whose website is unknown keeps NULL dates (left join); the website_id tests
    report it.
#}
{% macro with_business_dates(relation, timestamps) -%}
    {%- if timestamps is mapping -%}
        {%- set dates = timestamps -%}
    {%- else -%}
        {%- set dates = {} -%}
        {%- for column in timestamps -%}
            {%- if not column.endswith('_at') -%}
                {{ exceptions.raise_compiler_error(
                    "with_business_dates: '" ~ column ~ "' is not an <event>_at column; pass a mapping") }}
            {%- endif -%}
            {%- do dates.update({column: column[:-3] ~ '_date'}) -%}
        {%- endfor -%}
    {%- endif -%}
    select
        dated.*,
        {%- for column, date_column in dates.items() %}
        {{ business_date('dated.' ~ column, 'zones_' ~ loop.index ~ '.timezone') }} as {{ date_column }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ relation }} as dated
    {%- for column in dates %}
    {%- set zones = 'zones_' ~ loop.index %}
    left join {{ ref('int_website_versions') }} as {{ zones }}
        on dated.website_id = {{ zones }}.website_id
        and ({{ zones }}.valid_from is null or dated.{{ column }} >= {{ zones }}.valid_from)
        and ({{ zones }}.valid_to is null or dated.{{ column }} < {{ zones }}.valid_to)
    {%- endfor %}
{%- endmacro %}
