{#
    Spark's versions of the project's own materializations and strategies (issue 19).

    incremental, strategy 'slices' (macros/incremental/slices.sql): the strategy rebuilds
    the slices the extractor's change log touched; the lake carries no change log and
    Spark here always builds whole, so on Spark a slices model is built as a full table
    (dbt-spark's `table`), which is the same rows as a full DuckDB build. Any other
    strategy is dbt-spark's own.
#}
{% materialization incremental, adapter='spark', supported_languages=['sql'] %}
    {%- if config.get('incremental_strategy') == 'slices' -%}
        {{ log("slices: " ~ this.identifier ~ " is built whole on Spark (no change log in the lake)", info=false) }}
        {{ return(materialization_table_spark()) }}
    {%- else -%}
        {{ return(dbt_spark.materialization_incremental_spark()) }}
    {%- endif -%}
{% endmaterialization %}


{#
    snapshot, strategy 'check' (snapshots/source_history.yml): dbt-spark snapshots need a
    Delta/Hudi table (MERGE); the lake's tables are Parquet, which Spark cannot update in
    place. So the snapshot is rewritten whole on each run, with dbt's own columns and
    semantics: a row whose current version differs in a check column (null-safe) or that
    the source no longer has (hard_deletes 'invalidate') gets dbt_valid_to = this run's
    time; a new key or a changed row gets a new version valid from it. The new table is
    written beside the old one and swapped in (drop, rename). Small tables only: the
    snapshots are of the few current-state rows of a source (websites, tiers, orders).
#}
{% materialization snapshot, adapter='spark' %}
    {%- set strategy = config.get('strategy') -%}
    {%- set key = config.get('unique_key') -%}
    {%- set check_cols = config.get('check_cols') -%}
    {%- set hard_deletes = config.get('hard_deletes', 'ignore') -%}
    {%- if strategy != 'check' or key is not string or check_cols is string -%}
        {{ exceptions.raise_compiler_error(
            "snapshot on Spark: only strategy 'check' with one unique_key and a list of check_cols ("
            ~ this.identifier ~ ")") }}
    {%- endif -%}
    {%- set target = api.Relation.create(database=database, schema=schema, identifier=this.identifier, type='table') -%}
    {%- set staged = api.Relation.create(database=database, schema=schema, identifier=this.identifier ~ '__dbt_new', type='table') -%}
    {%- set existing = adapter.get_relation(database=database, schema=schema, identifier=this.identifier) -%}
    {{ run_hooks(pre_hooks) }}
    {%- do adapter.create_schema(target) -%}
    {%- set now = "cast('" ~ modules.datetime.datetime.utcnow().isoformat(sep=' ') ~ "' as timestamp)" -%}
    {%- set source_sql = model['compiled_code'] -%}
    {%- set changed -%}
        ({% for column in check_cols %}old.{{ column }} is distinct from new.{{ column }}{{ ' or ' if not loop.last }}{% endfor %})
    {%- endset -%}
    {%- set new_version -%}
        select new.*,
            md5(concat_ws('|', cast(new.{{ key }} as string), cast({{ now }} as string))) as dbt_scd_id,
            {{ now }} as dbt_updated_at,
            {{ now }} as dbt_valid_from,
            cast(null as timestamp) as dbt_valid_to
        from ({{ source_sql }}) as new
    {%- endset -%}
    {%- if existing is none -%}
        {%- set build_sql -%}
            create table {{ target }} {{ file_format_clause() }} as {{ new_version }}
        {%- endset -%}
    {%- else -%}
        {%- do adapter.drop_relation(staged) -%}
        {%- set columns = adapter.get_columns_in_relation(existing) | map(attribute='name') | list -%}
        {%- set build_sql -%}
            create table {{ staged }} {{ file_format_clause() }} as
            with new as (select * from ({{ source_sql }}) as source_rows),
            versions as (select * from {{ existing }}),
            current_versions as (select * from versions where dbt_valid_to is null)
            select {% for column in columns if column != 'dbt_valid_to' %}old.{{ column }}, {% endfor %}
                case
                    when old.dbt_valid_to is not null then old.dbt_valid_to
                    when new.{{ key }} is null then {{ 'cast(' ~ now ~ ' as timestamp)' if hard_deletes == 'invalidate' else 'null' }}
                    when {{ changed }} then {{ now }}
                end as dbt_valid_to
            from versions as old
            left join new on old.{{ key }} = new.{{ key }} and old.dbt_valid_to is null
            union all
            select {% for column in columns if column not in ('dbt_scd_id', 'dbt_updated_at', 'dbt_valid_from', 'dbt_valid_to') %}new.{{ column }}, {% endfor %}
                md5(concat_ws('|', cast(new.{{ key }} as string), cast({{ now }} as string))) as dbt_scd_id,
                {{ now }} as dbt_updated_at,
                {{ now }} as dbt_valid_from,
                cast(null as timestamp) as dbt_valid_to
            from new
            left join current_versions as old on new.{{ key }} = old.{{ key }}
            where old.{{ key }} is null or {{ changed }}
        {%- endset -%}
    {%- endif -%}
    {% call statement('main') -%}
        {{ build_sql }}
    {%- endcall %}
    {%- if existing is not none -%}
        {%- do adapter.drop_relation(existing) -%}
        {%- do adapter.rename_relation(staged, target) -%}
    {%- endif -%}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target]}) }}
{% endmaterialization %}
