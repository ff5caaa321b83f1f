{#
    round(numerator / denominator, scale) computed exactly in DECIMAL (half away from
    zero), NULL when the denominator is 0 or NULL: never a float, never an error.
    DuckDB's DECIMAL division returns a DOUBLE, so there both sides are scaled to integers
    (exact for inputs of up to 6 decimals) and divided as integers.
#}
{% macro decimal_div(numerator, denominator, scale=2) -%}
    {{ return(adapter.dispatch('decimal_div', 'mealytics')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro default__decimal_div(numerator, denominator, scale=2) -%}
    round(cast({{ numerator }} as numeric) / nullif({{ denominator }}, 0), {{ scale }})
{%- endmacro %}

{% macro duckdb__decimal_div(numerator, denominator, scale=2) -%}
    {%- set n = 'cast(cast((' ~ numerator ~ ') as decimal(38, 6)) * cast(1000000 as hugeint) as hugeint)' -%}
    {%- set d = 'cast(cast((' ~ denominator ~ ') as decimal(38, 6)) * cast(1000000 as hugeint) as hugeint)' -%}
    case
        when coalesce({{ d }}, 0) = 0 then null
        else cast(
            sign({{ n }}) * sign({{ d }})
            * ((abs({{ n }}) * {{ 2 * 10 ** scale }} + abs({{ d }})) // (2 * abs({{ d }})))
            as decimal(38, 0)
        ) * cast('{{ '%.*f' | format(scale, 10 ** -scale) }}' as decimal({{ scale + 1 }}, {{ scale }}))
    end
{%- endmacro %}


{#
    A percentage rounded to 2 decimals (METRICS.md): 100 * numerator / denominator;
    NULL when the denominator is 0.
#}
{% macro pct(numerator, denominator) -%}
    cast({{ decimal_div('(' ~ numerator ~ ') * 100', denominator, 2) }} as decimal(9, 2))
{%- endmacro %}


{# A money average (e.g. average order value): DECIMAL(12,2), NULL for no rows. #}
{% macro money_ratio(numerator, denominator) -%}
    cast({{ decimal_div(numerator, denominator, 2) }} as decimal(12, 2))
{%- endmacro %}
