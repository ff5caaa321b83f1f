{#
    Column types dbt's own cross-database macros do not cover. With dbt.type_string(),
    dbt.type_bigint(), dbt.type_int() and dbt.type_boolean(), every cast of the project
    names its type through a macro, so a second adapter adds only its `<adapter>__` versions.
#}

{# An exact decimal of the given precision and scale: money, rates. #}
{% macro type_decimal(precision, scale) -%}
    {{ return(adapter.dispatch('type_decimal', 'mealytics')(precision, scale)) }}
{%- endmacro %}

{% macro default__type_decimal(precision, scale) -%}
    decimal({{ precision }}, {{ scale }})
{%- endmacro %}


{#
    An instant (UTC timestamp with time zone): what the raw tables land and every `_at`
    column holds. dbt.type_timestamp() is a naive timestamp on DuckDB and PostgreSQL,
    which would drop the zone and change the types of the marts.
#}
{% macro type_timestamp_tz() -%}
    {{ return(adapter.dispatch('type_timestamp_tz', 'mealytics')()) }}
{%- endmacro %}

{% macro default__type_timestamp_tz() -%}
    timestamp with time zone
{%- endmacro %}


{#
    A double-precision float (test statistics, p-values): dbt.type_float() is FLOAT, a
    single-precision REAL on DuckDB.
#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'mealytics')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}


{#
    A naive timestamp that holds UTC (dbt's snapshot columns dbt_valid_from / _to on
    DuckDB) as an instant, comparable with the `_at` columns.
#}
{% macro naive_utc_to_instant(column) -%}
    {{ return(adapter.dispatch('naive_utc_to_instant', 'mealytics')(column)) }}
{%- endmacro %}

{% macro default__naive_utc_to_instant(column) -%}
    (cast({{ column }} as timestamp) at time zone 'UTC')
{%- endmacro %}
