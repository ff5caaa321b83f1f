{#
    Spark SQL versions of the project's dispatched macros (issue 19). The session time
    zone is UTC (profiles.yml), and Spark's TIMESTAMP is an instant (TIMESTAMP_LTZ): what
    DuckDB's TIMESTAMPTZ is. Each one below is the Spark twin of the `default__`/`duckdb__`
    version beside its macro (macros/*.sql), same result, same type where Spark has it.
#}

{#- Time zones (macros/business_date.sql). from_utc_timestamp(ts, tz) shifts the instant
    so that its UTC wall clock is the local wall clock in tz at that instant (the zone's
    offset then, DST included); with the session in UTC its date is the local date.
    to_utc_timestamp is the inverse: a local wall clock in tz to its instant. -#}
{% macro spark__business_date(ts_column, tz_column) -%}
    cast(from_utc_timestamp({{ ts_column }}, {{ tz_column }}) as date)
{%- endmacro %}

{% macro spark__business_day_end(date_column, tz_column) -%}
    to_utc_timestamp(cast(date_add(cast({{ date_column }} as date), 1) as timestamp), {{ tz_column }})
{%- endmacro %}

{% macro spark__local_timestamp(ts_column, tz_column) -%}
    cast(from_utc_timestamp({{ ts_column }}, {{ tz_column }}) as timestamp_ntz)
{%- endmacro %}

{#- weekday(): 0 = Monday … 6 = Sunday. -#}
{% macro spark__iso_weekday(ts_column) -%}
    cast(weekday({{ ts_column }}) + 1 as int)
{%- endmacro %}

{#- Types (macros/types.sql). -#}
{% macro spark__type_timestamp_tz() -%}
    timestamp
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- With the session zone UTC, a TIMESTAMP_NTZ cast to TIMESTAMP is read as UTC; a
    TIMESTAMP (the Spark snapshots' columns) stays the instant it is. -#}
{% macro spark__naive_utc_to_instant(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{#- Spines (macros/date_spine.sql): sequence() + explode instead of generate_series/unnest. -#}
{% macro spark__days_between(relation, key_columns, start_column, end_column) -%}
    select
        {% for key in key_columns %}{{ key }},
        {% endfor %}explode(sequence(
            cast({{ start_column }} as date),
            cast({{ end_column }} as date),
            interval 1 day
        )) as business_date
    from {{ relation }}
    where {{ start_column }} <= {{ end_column }}
{%- endmacro %}

{% macro spark__offsets_up_to(relation, key_columns, max_column, name) -%}
    select
        {% for key in key_columns %}{{ key }},
        {% endfor %}explode(sequence(0, cast({{ max_column }} as int))) as {{ name }}
    from {{ relation }}
    where {{ max_column }} >= 0
{%- endmacro %}

{#- round(n / d, scale), exact, half away from zero (macros/safe_rate.sql): Spark's own
    DECIMAL division rounds its quotient to a scale of its choosing (6 when precision
    runs out), and rounding that again could be off by a unit. As on DuckDB, both sides
    are scaled to integers (exact for up to 6 decimals) and divided as integers:
    `div` on DECIMAL(38, 0) is exact (BigDecimal.divideToIntegralValue), and its quotient
    (the result in units of 10^-scale) fits a BIGINT. -#}
{% macro spark__decimal_div(numerator, denominator, scale=2, integers=false) -%}
    {%- if integers -%}
        {%- set n = 'cast((' ~ numerator ~ ') as decimal(38, 0))' -%}
        {%- set d = 'cast((' ~ denominator ~ ') as decimal(38, 0))' -%}
    {%- else -%}
        {%- set n = 'cast(cast((' ~ numerator ~ ') as decimal(38, 6)) * 1000000 as decimal(38, 0))' -%}
        {%- set d = 'cast(cast((' ~ denominator ~ ') as decimal(38, 6)) * 1000000 as decimal(38, 0))' -%}
    {%- endif -%}
    case
        when coalesce({{ d }}, 0) = 0 then null
        else cast(
            (case when ({{ n }} < 0) = ({{ d }} < 0) then 1 else -1 end)
            * ((abs({{ n }}) * {{ 2 * 10 ** scale }} + abs({{ d }})) div (2 * abs({{ d }})))
            as decimal(38, 0)
        ) * cast('{{ '%.*f' | format(scale, 10 ** -scale) }}' as decimal({{ scale + 1 }}, {{ scale }}))
    end
{%- endmacro %}

{#- dbt's datediff (dbt-spark's counts microseconds through a string hack and months
    through months_between): boundaries crossed, as DuckDB's date_diff counts them. -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'microsecond' -%}
        (unix_micros(cast({{ second_date }} as timestamp)) - unix_micros(cast({{ first_date }} as timestamp)))
    {%- elif datepart == 'millisecond' -%}
        (unix_millis(cast({{ second_date }} as timestamp)) - unix_millis(cast({{ first_date }} as timestamp)))
    {%- elif datepart == 'second' -%}
        (unix_seconds(cast({{ second_date }} as timestamp)) - unix_seconds(cast({{ first_date }} as timestamp)))
    {%- elif datepart == 'day' -%}
        datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
    {%- elif datepart == 'month' -%}
        ((year({{ second_date }}) * 12 + month({{ second_date }})) - (year({{ first_date }}) * 12 + month({{ first_date }})))
    {%- elif datepart == 'year' -%}
        (year({{ second_date }}) - year({{ first_date }}))
    {%- else -%}
        {{ return(dbt_spark.spark__datediff(first_date, second_date, datepart)) }}
    {%- endif -%}
{%- endmacro %}

{#- Catalog look-ups (macros/catalog.sql). Spark has no list of its time zones: the IANA
    names of the tz database dbt ships (pytz), the one Java's zone rules also follow. -#}
{% macro spark__time_zone_names() -%}
    select name from values
    {%- for zone in modules.pytz.all_timezones %}
        ('{{ zone }}'){{ ',' if not loop.last }}
    {%- endfor %} as zones(name)
{%- endmacro %}

{#- Spark has no information_schema: the columns of the schema's relations, listed (SHOW TABLES, no
    temporary view; the adapter's DESCRIBE) as the test is compiled, written out as rows
    (none before the schema exists: a compile on an empty lake). -#}
{% macro spark__schema_columns(schema_name) -%}
    {%- set rows = [] -%}
    {%- if execute and run_query("show schemas like '" ~ schema_name ~ "'").rows | length > 0 -%}
        {%- for listed in run_query('show tables in ' ~ schema_name) if not listed[2] -%}
            {%- set relation = api.Relation.create(schema=schema_name, identifier=listed[1]) -%}
            {%- for column in adapter.get_columns_in_relation(relation) -%}
                {%- do rows.append("('" ~ relation.identifier ~ "', '" ~ column.name ~ "')") -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if not rows -%}
        {%- do rows.append("(cast(null as string), cast(null as string))") -%}
    {%- endif -%}
    select table_name, column_name from values {{ rows | join(', ') }} as mart_columns(table_name, column_name)
{%- endmacro %}

{#- percentile_cont (macros/percentile.sql): Spark 4 takes the ordered-set syntax too, but
    `percentile(x, fraction)` is the same exact, interpolated percentile (both give 2.5 for
    1, 2, 3, 10), returns the same DOUBLE, and is the form SQLFluff's sparksql dialect
    parses. -#}
{% macro spark__percentile_cont(fraction, expression) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- dbt's dateadd: dbt-spark's nests unix-timestamp arithmetic several levels deep (too deep
    for SQLFluff to parse); timestampadd keeps the time of day, clamps month ends as
    DuckDB does (Jan 31 + 1 month = Feb 28) and, like DuckDB's date + interval, returns a
    timestamp. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, cast({{ interval }} as int), {{ from_date_or_timestamp }})
{%- endmacro %}
