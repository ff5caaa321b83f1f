{#
    The continuous (interpolated) percentile `fraction` of `expression` over the group, as
    METRICS.md uses everywhere (median = 0.5): the SQL standard's ordered-set aggregate,
    which DuckDB and PostgreSQL take as written.
#}
{% macro percentile_cont(fraction, expression) -%}
    {{ return(adapter.dispatch('percentile_cont', 'mealytics')(fraction, expression)) }}
{%- endmacro %}

{% macro default__percentile_cont(fraction, expression) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}
