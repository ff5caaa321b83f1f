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
