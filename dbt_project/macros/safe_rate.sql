{#
    A percentage rounded to 2 decimals; NULL when the denominator is 0 or NULL, never an
    error (METRICS.md). Computed in DECIMAL so no float reaches the marts.
#}
{% macro pct(numerator, denominator) -%}
    cast(round(
        cast({{ numerator }} as decimal(18, 4)) * 100
        / nullif(cast({{ denominator }} as decimal(18, 4)), 0),
        2
    ) as decimal(9, 2))
{%- endmacro %}


{# A money average (e.g. average order value): DECIMAL(12,2), NULL for no rows. #}
{% macro money_ratio(numerator, denominator) -%}
    cast(round(
        cast({{ numerator }} as decimal(18, 2)) / nullif({{ denominator }}, 0),
        2
    ) as decimal(12, 2))
{%- endmacro %}
