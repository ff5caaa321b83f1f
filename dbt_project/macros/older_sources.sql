{#
    Sources at an older version of the contract (SOURCE_SCHEMA.md: new columns and tables
    arrive as Django migrations do). A staging model reads the columns a later version
    added through `column_or_null`, and a table a later version added through
    `relation_or_empty`: on a raw copy that lacks them, the column is a typed NULL and the
    table a typed empty relation, so staging keeps one shape and every model downstream
    runs. Both look the warehouse up when the model runs (`execute`), never at parse time,
    through the adapter (`load_relation`, `get_columns_in_relation`), so they work the same
    on every engine; each is dispatched, so an adapter can replace one.
#}

{# The lower-cased column names of `relation`, or none when it does not exist. #}
{% macro relation_column_names(relation) -%}
    {{ return(adapter.dispatch('relation_column_names', 'mealytics')(relation)) }}
{%- endmacro %}

{% macro default__relation_column_names(relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set existing = load_relation(relation) -%}
    {%- if existing is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(existing) -%}
        {%- do names.append(column.name | lower) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}


{#
    `name` when `columns` (from relation_column_names) has it, else a NULL: cast it like
    any column, `cast({{ column_or_null('opened_at', columns) }} as ...)`. At parse time
    (columns none) the column itself.
#}
{% macro column_or_null(name, columns) -%}
    {{ return(adapter.dispatch('column_or_null', 'mealytics')(name, columns)) }}
{%- endmacro %}

{% macro default__column_or_null(name, columns) -%}
    {%- if columns is none or (name | lower) in columns -%}
        {{ adapter.quote(name) }}
    {%- else -%}
        null
    {%- endif -%}
{%- endmacro %}


{#
    The relation when it exists, else an empty relation with `columns` ({name: type}, in
    order): what a table that a later version of the source added reads as on an older one.
#}
{% macro relation_or_empty(relation, columns) -%}
    {{ return(adapter.dispatch('relation_or_empty', 'mealytics')(relation, columns)) }}
{%- endmacro %}

{% macro default__relation_or_empty(relation, columns) -%}
    {%- if not execute or load_relation(relation) is not none -%}
        {{ relation }}
    {%- else -%}
        (
            select
            {%- for name, type in columns.items() %}
                cast(null as {{ type }}) as {{ adapter.quote(name) }}{{ "," if not loop.last }}
            {%- endfor %}
            where 1 = 0
        )
    {%- endif -%}
{%- endmacro %}
