{#
    The lake (issue 19): on Spark, source('raw', T) reads the Parquet files of
    <lake>/raw/T/ (lake_dir() below; pipelines/lake.py writes them). The on-run-start hook
    `lake_sources()` (re)creates, in schema raw, one view per source table over
    parquet.`<lake>/raw/T`: a view lists the folder's files each time it is read, so it
    always sees the lake's current files (no table cache to refresh), and dbt's
    source() resolves to raw.T as on DuckDB. Other adapters: nothing to do.
#}

{#- The lake's folder, as profiles.yml computes it (the var `lake`, else MEALYTICS_LAKE,
    else `lake` beside the warehouse file). -#}
{% macro lake_dir() -%}
    {%- set warehouse = var('warehouse', env_var('MEALYTICS_WAREHOUSE', 'data/warehouse.duckdb')) | string -%}
    {{- var('lake', env_var('MEALYTICS_LAKE', (warehouse.rsplit('/', 1)[0] if '/' in warehouse else '.') ~ '/lake')) -}}
{%- endmacro %}

{% macro lake_sources() -%}
    {{ return(adapter.dispatch('lake_sources', 'mealytics')()) }}
{%- endmacro %}

{% macro default__lake_sources() -%}
{%- endmacro %}

{% macro spark__lake_sources() -%}
    {%- if execute -%}
        {%- set sources = graph.sources.values() | selectattr('source_name', 'equalto', 'raw') | list -%}
        {%- if sources -%}
            {%- do run_query('create schema if not exists raw') -%}
        {%- endif -%}
        {%- for node in sources -%}
            {%- do run_query(
                'create or replace view raw.' ~ node.name
                ~ ' as select * from parquet.`' ~ lake_dir() ~ '/raw/' ~ node.name ~ '`') -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
