{#
    Type names as the project writes them in yml (contracts' data_type, seeds'
    column_types: DuckDB/PostgreSQL names) translated for Spark, where VARCHAR needs a
    length and there is no TIMESTAMPTZ: one mapping, used by dbt's cast on Spark (the
    contracts compare a model's columns with `cast(null as <data_type>)`) and by the seeds'
    CREATE TABLE. Models name their types through macros (macros/types.sql) instead.
#}
{% macro spark_type(data_type) -%}
    {%- set name = data_type | string | trim | lower -%}
    {%- set names = {
        'varchar': 'string', 'text': 'string', 'string': 'string',
        'timestamptz': 'timestamp', 'timestamp with time zone': 'timestamp',
        'timestamp': 'timestamp_ntz', 'timestamp without time zone': 'timestamp_ntz',
        'integer': 'int', 'int4': 'int', 'int8': 'bigint',
        'double precision': 'double', 'float8': 'double', 'real': 'float',
    } -%}
    {{- names.get(name, data_type) -}}
{%- endmacro %}

{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type(type) }})
{%- endmacro %}

{#- dbt-spark's seed table, with the column_types translated. -#}
{% macro spark__create_csv_table(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
  {% set sql %}
    create table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = spark_type(column_override.get(col_name, inferred_type)) -%}
            {%- set column_name = (col_name | string) -%}
            {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
  {% endset %}
  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}
  {{ return(sql) }}
{% endmacro %}

{#- dbt-spark's seed rows, with the column_types translated. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set bindings = [] %}
      {% for row in chunk %}
          {% do bindings.extend(row) %}
      {% endfor %}
      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                  {%- set type = spark_type(column_override.get(col_name, inferred_type)) -%}
                    cast({{ get_binding_char() }} as {{type}})
                  {%- if not loop.last%},{%- endif %}
              {%- endfor -%})
              {%- if not loop.last%},{%- endif %}
          {%- endfor %}
      {% endset %}
      {% do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) %}
      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}
