{#
    Catalog look-ups of the data tests, per engine: the time zones the engine knows
    (`select name`), and the columns of the tables of a schema (`select table_name,
    column_name`).
#}
{% macro time_zone_names() -%}
    {{ return(adapter.dispatch('time_zone_names', 'mealytics')()) }}
{%- endmacro %}

{% macro default__time_zone_names() -%}
    select name from pg_timezone_names()
{%- endmacro %}


{% macro schema_columns(schema_name) -%}
    {{ return(adapter.dispatch('schema_columns', 'mealytics')(schema_name)) }}
{%- endmacro %}

{% macro default__schema_columns(schema_name) -%}
    select
        table_name,
        column_name
    from information_schema.columns
    where table_schema = '{{ schema_name }}'
{%- endmacro %}
