{#
    The business date the marts describe as "now": var('as_of') when given (YYYY-MM-DD),
    otherwise yesterday in the website's time zone, so a run at 02:00 describes complete
    days (METRICS.md, Time); with var('today_so_far') (the frequent refresh), today in the
    website's zone: the marts then end with today's partial day ("today so far").
    A malformed as_of stops the run instead of reaching SQL.
#}
{% macro as_of_date(tz_column) -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of is not none and as_of | string | trim not in ('', 'None', 'null') -%}
        {%- set text = as_of | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
            {{ exceptions.raise_compiler_error("var as_of must be a date YYYY-MM-DD, got '" ~ text ~ "'") }}
        {%- endif -%}
        cast('{{ text }}' as date)
    {%- elif var('today_so_far', false) in (true, 'true', 'True') -%}
        cast({{ business_date(dbt.current_timestamp(), tz_column) }} as date)
    {%- else -%}
        cast({{ dbt.dateadd('day', -1, business_date(dbt.current_timestamp(), tz_column)) }} as date)
    {%- endif -%}
{%- endmacro %}
