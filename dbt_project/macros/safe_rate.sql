{#
    round(numerator / denominator, scale) computed exactly in DECIMAL (half away from
    zero), NULL when the denominator is 0 or NULL: never a float, never an error.
    DuckDB's DECIMAL division returns a DOUBLE, so there both sides are scaled to integers
    (exact for inputs of up to 6 decimals) and divided as integers.
    integers=true: the caller knows both sides are integers (e.g. microseconds), so DuckDB
    skips the scaling (a DECIMAL(38, 6) to HUGEINT cast, ~0.5 µs a value: seconds over the
    millions of rows of int_deliveries_timed) and divides in BIGINT; the result is the
    same, since scaling both sides by 10^6 leaves the quotient unchanged, and an overflow
    is an error in DuckDB, never a wrong figure.
#}
{% macro decimal_div(numerator, denominator, scale=2, integers=false) -%}
    {{ return(adapter.dispatch('decimal_div', 'mealytics')(numerator, denominator, scale, integers)) }}
{%- endmacro %}

{% macro default__decimal_div(numerator, denominator, scale=2, integers=false) -%}
    round(cast({{ numerator }} as numeric) / nullif({{ denominator }}, 0), {{ scale }})
{%- endmacro %}

{% macro duckdb__decimal_div(numerator, denominator, scale=2, integers=false) -%}
    {%- if integers -%}
        {%- set n = 'cast((' ~ numerator ~ ') as bigint)' -%}
        {%- set d = 'cast((' ~ denominator ~ ') as bigint)' -%}
    {%- else -%}
        {%- set n = 'cast(cast((' ~ numerator ~ ') as decimal(38, 6)) * cast(1000000 as hugeint) as hugeint)' -%}
        {%- set d = 'cast(cast((' ~ denominator ~ ') as decimal(38, 6)) * cast(1000000 as hugeint) as hugeint)' -%}
    {%- endif -%}
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
    cast({{ decimal_div('(' ~ numerator ~ ') * 100', denominator, 2) }} as {{ type_decimal(9, 2) }})
{%- endmacro %}


{# A money average (e.g. average order value): DECIMAL(12,2), NULL for no rows. #}
{% macro money_ratio(numerator, denominator) -%}
    cast({{ decimal_div(numerator, denominator, 2) }} as {{ type_decimal(12, 2) }})
{%- endmacro %}
