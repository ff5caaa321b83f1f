{#
    One row per day from start_column to end_column inclusive, for each row of `relation`
    (e.g. per website): `select <key columns>, business_date`. Empty when start > end.
#}
{% macro days_between(relation, key_columns, start_column, end_column) -%}
    {{ return(adapter.dispatch('days_between', 'mealytics')(relation, key_columns, start_column, end_column)) }}
{%- endmacro %}

{% macro default__days_between(relation, key_columns, start_column, end_column) -%}
    select
        {% for key in key_columns %}{{ key }},
        {% endfor %}cast(unnest(generate_series(
            cast({{ start_column }} as timestamp),
            cast({{ end_column }} as timestamp),
            interval '1 day'
        )) as date) as business_date
    from {{ relation }}
    where {{ start_column }} <= {{ end_column }}
{%- endmacro %}


{#
    One row per integer 0..max_column for each row of `relation`:
    `select <key columns>, <name>`. Empty when max_column < 0.
#}
{% macro offsets_up_to(relation, key_columns, max_column, name) -%}
    {{ return(adapter.dispatch('offsets_up_to', 'mealytics')(relation, key_columns, max_column, name)) }}
{%- endmacro %}

{% macro default__offsets_up_to(relation, key_columns, max_column, name) -%}
    select
        {% for key in key_columns %}{{ key }},
        {% endfor %}cast(unnest(generate_series(0, {{ max_column }})) as {{ dbt.type_int() }}) as {{ name }}
    from {{ relation }}
    where {{ max_column }} >= 0
{%- endmacro %}
