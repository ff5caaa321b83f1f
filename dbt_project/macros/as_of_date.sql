{#
    The business date the marts describe as "now": var('as_of') when given (YYYY-MM-DD),
    otherwise yesterday in the website's time zone, so a run at 02:00 describes complete
    days (METRICS.md, Time).
#}
{% macro as_of_date(tz_column) -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of is not none and as_of | string | trim not in ('', 'None', 'null') -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        cast({{ business_date(dbt.current_timestamp(), tz_column) }} - interval 1 day as date)
    {%- endif -%}
{%- endmacro %}
