{#
    materialized='table_macro': the model's SQL becomes a DuckDB table macro
    `<schema>.<model>(<parameters>)`, a parameterized view that analysts call in plain
    SQL (`select * from marts.loyalty_calculate(date '2026-01-01', date '2026-01-31')`).
    dbt creates it after the models it refs (DuckDB binds a macro's tables at creation)
    and replaces it on every run, so it is idempotent. Its refs are written without the
    database (`marts.x`, not `"warehouse"."marts"."x"`): DuckDB names the database after
    the file, so the macro then also works in the published copy (published.duckdb) and
    in any copy of the file under another name. Parameters come from
    config(parameters=[...]); `name := default` makes one optional.

    Inside the model, a parameter is written {{ table_macro_arg('name') }}: it renders
    as the bare parameter name, except in a dbt unit test, which passes literal values
    through the var `table_macro_args` so the macro's SQL can be tested like a model.
#}
{% materialization table_macro, adapter='duckdb' %}
    {%- set parameters = config.get('parameters', []) -%}
    {%- set body = sql | replace('"' ~ this.database ~ '".', '') -%}
    {{ run_hooks(pre_hooks) }}
    {% call statement('main') -%}
        create or replace macro {{ this.schema }}.{{ this.identifier }}({{ parameters | join(', ') }}) as table
        {{ body }}
    {%- endcall %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': []}) }}
{% endmaterialization %}

{#
    Spark (4.x): a SQL table function, `create or replace function <schema>.<model>(<typed
    parameters>) returns table return <SQL>`, called the same way
    (`select * from marts.loyalty_calculate(date '2026-01-01', date '2026-01-31')`) and
    stored in the metastore beside the marts. Spark's parameters are typed: the type of each
    comes from its name (table_macro_parameter_type); `name := default` becomes
    `name <type> default <default>`.
#}
{% materialization table_macro, adapter='spark' %}
    {%- set parameters = [] -%}
    {%- for parameter in config.get('parameters', []) -%}
        {%- set parts = parameter.split(':=') -%}
        {%- set name = parts[0] | trim -%}
        {%- set typed = name ~ ' ' ~ table_macro_parameter_type(name) -%}
        {%- if parts | length > 1 -%}
            {%- set typed = typed ~ ' default ' ~ (parts[1] | trim) -%}
        {%- endif -%}
        {%- do parameters.append(typed) -%}
    {%- endfor -%}
    {{ run_hooks(pre_hooks) }}
    {%- do adapter.create_schema(api.Relation.create(database=this.database, schema=this.schema)) -%}
    {% call statement('main') -%}
        create or replace function {{ this.schema }}.{{ this.identifier }}({{ parameters | join(', ') }})
        returns table
        return {{ sql }}
    {%- endcall %}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': []}) }}
{% endmaterialization %}

{#- The SQL type of a table macro parameter, by its name (Spark's functions type theirs). -#}
{% macro table_macro_parameter_type(name) -%}
    {%- set types = {
        'as_of': 'date', 'date_from': 'date', 'date_to': 'date',
        'days': dbt.type_int(), 'lim': dbt.type_int(), 'website': dbt.type_bigint(),
    } -%}
    {%- if name not in types -%}
        {{ exceptions.raise_compiler_error(
            "table_macro: no type for parameter '" ~ name ~ "' (macros/table_macro.sql, table_macro_parameter_type)") }}
    {%- endif -%}
    {{- types[name] -}}
{%- endmacro %}

{% materialization table_macro, default %}
    {{ exceptions.raise_compiler_error(
        "table_macro is implemented for DuckDB only; on " ~ adapter.type()
        ~ " create " ~ this.identifier ~ " as a set-returning function or a view") }}
{% endmaterialization %}

{% macro table_macro_arg(name) -%}
    {%- set given = var('table_macro_args', {}) -%}
    {%- if name in given -%}({{ given[name] }}){%- else -%}{{ name }}{%- endif -%}
{%- endmacro %}
