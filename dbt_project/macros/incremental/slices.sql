{#
    Change-driven incremental models: a run rebuilds only the slices its changes touch.

    A slice is the unit a model is rebuilt by, its config `unique_key`: a customer
    (int_orders_enriched: user_id), a payment (int_payments_netted: payment_id), a
    website's business day (fct_daily_snapshot: website_id, business_date). A model
    materialized `incremental` with `incremental_strategy='slices'`:

      1. finds what changed since it last ran (`slices_window`): the extraction's change
         log `meta._changes` (seq, table_name, op, row_id, row_key, before: one row per
         inserted, updated or deleted key, `before` the row raw held) for the raw tables it
         reads, and the deltas of the incremental models it refs (`changes."<model>__delta"`:
         the rows each run removed and added), each after what this model last consumed;
      2. stages the affected slices in a temporary table as its SQL is compiled
         (`slices_stage`, from SQL the model writes with `raw_changed` and `delta_changed`);
      3. computes its rows of those slices only (`slices_filter` in its SQL);
      4. the strategy (`get_incremental_slices_sql`) records its own delta (the slices' old
         rows that are gone and new rows that were not there, EXCEPT ALL), deletes the
         slices and inserts the new rows, in one transaction;
      5. the post-hook (`slices_done`) records what it consumed in `changes._state`.

    A change the log cannot list key by key (op 'all': a first load, a keyless table
    swapped whole, a column added, a large share of a table), an upstream model rebuilt
    whole, or a model without state: every slice is rebuilt (mode 'all') and the delta
    says so (`_full`), so the models downstream rebuild whole too. The first build and
    `--full-refresh` create the table as `table` would (mode 'full').

    Each dbt invocation is one batch (`changes._runs`, numbered by the on-run-start hook);
    deltas carry their batch, so a model that did not run (a failure upstream, a partial
    selection) consumes every batch it missed when it next runs, and rebuilding a slice
    twice is harmless: it is recomputed from the current inputs.
#}

{% macro slices_schema() %}changes{% endmacro %}

{#- Whether the adapter builds slices models change by change. Spark always builds whole
    (the lake carries no change log): there every slices model is a full table
    (macros/spark/materializations.sql), and the hooks and post-hooks do nothing. -#}
{% macro slices_supported() -%}
    {{ return(adapter.dispatch('slices_supported', 'mealytics')()) }}
{%- endmacro %}

{% macro default__slices_supported() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro spark__slices_supported() -%}
    {{ return(false) }}
{%- endmacro %}

{#- on-run-start: the bookkeeping tables, and this invocation's batch number. -#}
{% macro slices_begin_run() %}
    {%- if execute and flags.WHICH in ('run', 'build') and slices_supported() -%}
        {%- set statements -%}
        create schema if not exists {{ slices_schema() }};
        create table if not exists {{ slices_schema() }}._runs (
            batch bigint primary key,
            invocation_id varchar,
            changes_through bigint,
            started_at timestamp with time zone
        );
        create table if not exists {{ slices_schema() }}._state (
            model varchar primary key,
            batch bigint,
            changes_through bigint,
            mode varchar,
            reason varchar,
            fingerprint varchar,
            updated_at timestamp with time zone
        );
        insert into {{ slices_schema() }}._runs
        select coalesce(max(batch), 0) + 1, '{{ invocation_id }}', {{ changes_through() }}, now()
        from {{ slices_schema() }}._runs
        {%- endset -%}
        {%- do slices_execute(statements) -%}
    {%- endif -%}
{% endmacro %}

{#- Hook statements, committed (dbt may or may not have a transaction open in a hook). -#}
{% macro slices_execute(statements) %}
    {%- do run_query(statements) -%}
    {%- do adapter.commit() -%}
{% endmacro %}

{#- The last extraction change this run covers: the var the pipeline passes, else the log's
    newest (0 without a log). -#}
{% macro changes_through() %}
    {%- set given = var('changes_through', none) -%}
    {%- if given is not none -%}{{ return(given | int) }}{%- endif -%}
    {%- if not execute -%}{{ return(0) }}{%- endif -%}
    {%- set log = adapter.get_relation(database=target.database, schema='meta', identifier='_changes') -%}
    {%- if log is none -%}{{ return(0) }}{%- endif -%}
    {%- set found = run_query('select coalesce(max(seq), 0) from meta._changes') -%}
    {{ return(found.columns[0].values()[0] | int) }}
{% endmacro %}

{% macro slices_batch() %}
    {%- set found = run_query(
        "select batch, changes_through from " ~ slices_schema() ~ "._runs where invocation_id = '"
        ~ invocation_id ~ "'") -%}
    {%- if found.rows | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "no batch for this dbt invocation: the on-run-start hook slices_begin_run did not run") }}
    {%- endif -%}
    {{ return({'batch': found.rows[0][0] | int, 'through': found.rows[0][1] | int}) }}
{% endmacro %}

{% macro delta_relation(model_name) -%}
    {{ slices_schema() }}."{{ model_name }}__delta"
{%- endmacro %}

{#- The slices a run rebuilt (mode 'changes'), kept for the model's tests
    (`get_where_subquery`) until the next run replaces them. -#}
{% macro slices_relation(model_name) -%}
    {{ slices_schema() }}."{{ model_name }}__slices"
{%- endmacro %}

{#- What this model consumed when it last ran: {batch, changes_through}, or none. -#}
{% macro slices_state(model_name) %}
    {%- set found = run_query(
        "select batch, changes_through, fingerprint from " ~ slices_schema()
        ~ "._state where model = '" ~ model_name ~ "'") -%}
    {%- if found.rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {{ return({'batch': found.rows[0][0] | int, 'through': found.rows[0][1] | int,
               'fingerprint': found.rows[0][2]}) }}
{% endmacro %}

{#-
    The window of changes this model has not consumed, and how it rebuilds:
    {mode: 'full' | 'all' | 'changes', reason, batch, through, after, after_batch, model,
    slices}. `mapped`: the raw tables and upstream slices models whose changes the model
    maps to its slices itself (with raw_changed and delta_changed). Any other raw table or
    slices model upstream of it (walking the graph through views and tables) that changed
    in the window makes it rebuild every slice, and so does a change of its code or of any
    model, seed, snapshot or macro between it and them (a fingerprint of their checksums).
-#}
{% macro slices_window(mapped=[]) %}
    {%- set window = {'model': this.identifier, 'slices': slices_relation(this.identifier),
                      'mapped': mapped, 'reason': ''} -%}
    {%- if not execute or flags.WHICH not in ('run', 'build') or not graph.get('nodes')
        or not slices_supported() -%}
        {#- Parsing, compiling, a unit test (its graph is empty), an adapter that builds
            whole: the whole model's SQL. -#}
        {%- do window.update({'mode': 'full', 'fingerprint': ''}) -%}
        {{ return(window) }}
    {%- endif -%}
    {%- set upstream = slices_upstream(model.unique_id) -%}
    {%- do window.update({'fingerprint': upstream.fingerprint}) -%}
    {%- if not is_incremental() -%}
        {%- do window.update({'mode': 'full'}) -%}
        {{ return(window) }}
    {%- endif -%}
    {%- set run = slices_batch() -%}
    {%- set state = slices_state(this.identifier) -%}
    {%- do window.update({'batch': run.batch, 'through': run.through}) -%}
    {%- if state is none -%}
        {%- do window.update({'mode': 'all', 'reason': 'no state'}) -%}
        {{ return(window) }}
    {%- endif -%}
    {%- do window.update({'after': state.through, 'after_batch': state.batch}) -%}
    {%- set reason = slices_rebuild_reason(window, upstream, state) -%}
    {%- do window.update({'mode': 'all' if reason else 'changes', 'reason': reason}) -%}
    {{ return(window) }}
{% endmacro %}

{#- The raw tables and slices models upstream of a node, through every other node, and a
    fingerprint of the code in between (node checksums, macro SQL). -#}
{% macro slices_upstream(unique_id) %}
    {%- set found = {'raw': [], 'slices': [], 'code': []} -%}
    {%- set seen = [] -%}
    {%- set todo = [unique_id] -%}
    {%- for _ in range(10000) if todo -%}
        {%- set node_id = todo.pop() -%}
        {%- if node_id not in seen -%}
            {%- do seen.append(node_id) -%}
            {%- set node = graph.nodes.get(node_id) -%}
            {%- do found.code.append(node_id ~ ':' ~ node.checksum.checksum) -%}
            {%- for macro_id in node.depends_on.macros | sort -%}
                {%- if macro_id in graph.macros -%}
                    {%- do found.code.append(macro_id ~ ':' ~ local_md5(graph.macros[macro_id].macro_sql)) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- for dep in node.depends_on.nodes -%}
                {%- if dep.startswith('source.') -%}
                    {%- set source_node = graph.sources[dep] -%}
                    {%- if source_node.source_name == 'raw' and source_node.name not in found.raw -%}
                        {%- do found.raw.append(source_node.name) -%}
                    {%- endif -%}
                {%- elif dep in graph.nodes -%}
                    {%- set upstream = graph.nodes[dep] -%}
                    {%- if upstream.resource_type == 'model'
                        and upstream.config.get('incremental_strategy') == 'slices' -%}
                        {%- if upstream.name not in found.slices -%}
                            {%- do found.slices.append(upstream.name) -%}
                        {%- endif -%}
                    {%- else -%}
                        {%- do todo.append(dep) -%}
                    {%- endif -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do found.update({'fingerprint': local_md5(found.code | sort | join('|'))}) -%}
    {{ return(found) }}
{% endmacro %}

{#- Why every slice must be rebuilt, or '': the code changed; an 'all' change of a raw table
    read; a change of an unmapped raw table or slices model; an upstream rebuilt whole. -#}
{% macro slices_rebuild_reason(window, upstream, state) %}
    {%- if state.fingerprint != upstream.fingerprint -%}
        {{ return('its code or an upstream model, seed or macro changed') }}
    {%- endif -%}
    {%- set log = adapter.get_relation(database=target.database, schema='meta', identifier='_changes') -%}
    {%- if upstream.raw and log is none -%}
        {{ return('no change log (meta._changes): raw was not written by the extraction') }}
    {%- endif -%}
    {%- if upstream.raw -%}
        {%- set found = run_query(
            "select string_agg(distinct table_name, ', ' order by table_name) from meta._changes"
            ~ " where seq > " ~ window.after ~ " and seq <= " ~ window.through
            ~ " and table_name in ('" ~ upstream.raw | join("', '") ~ "')"
            ~ " and (op = 'all' or table_name not in ('" ~ window.mapped | join("', '") ~ "'))") -%}
        {%- if found.rows[0][0] -%}
            {{ return('raw tables changed whole or unmapped: ' ~ found.rows[0][0]) }}
        {%- endif -%}
    {%- endif -%}
    {%- for name in upstream.slices -%}
        {%- if adapter.get_relation(database=target.database, schema=slices_schema(), identifier=name ~ '__delta') is none -%}
            {{ return('no delta of ' ~ name) }}
        {%- endif -%}
        {%- set found = run_query(
            "select count(*) from " ~ delta_relation(name) ~ " where _batch > " ~ window.after_batch
            ~ " and _batch <= " ~ window.batch
            ~ (" and _full" if name in window.mapped else "")) -%}
        {%- if found.rows[0][0] > 0 -%}
            {{ return(name ~ (' rebuilt whole' if name in window.mapped else ' changed, unmapped')) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}

{#- The keys of `table` (a raw table with one integer key `id`) changed in the window, as
    `row_id`, with op and the before image. -#}
{% macro raw_changes(window, table) -%}
    select row_id, op, before
    from meta._changes
    where table_name = '{{ table }}'
        and seq > {{ window.after }} and seq <= {{ window.through }}
{%- endmacro %}

{#- Values of `columns` ({name: type}) of the changed rows of raw `table`, before the change
    (from the log's before images) and after it (the row raw holds now): every slice a
    changed row belonged to or belongs to. -#}
{% macro raw_changed(window, table, columns, key='id') -%}
    select {% for name in columns %}now_.{{ name }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ raw_relation(table) }} as now_
    where now_.{{ key }} in (select row_id from ({{ raw_changes(window, table) }}) as c)
    union
    select {% for name, type in columns.items() -%}
        cast({{ json_text('c.before', name) }} as {{ type }}) as {{ name }}{{ ', ' if not loop.last }}
    {%- endfor %}
    from ({{ raw_changes(window, table) }}) as c
    where c.before is not null
{%- endmacro %}

{#- A raw table, by the dbt source's definition, without declaring a dependency (the model
    already depends on it through staging; a unit test then needs no fixture for it). -#}
{% macro raw_relation(table) -%}
    {%- if not execute or not graph.get('sources') -%}{{ return('raw.' ~ table) }}{%- endif -%}
    {%- set found = graph.sources.get('source.' ~ project_name ~ '.raw.' ~ table) -%}
    {%- if found is none -%}
        {{ exceptions.raise_compiler_error("slices: no raw source table '" ~ table ~ "'") }}
    {%- endif -%}
    {{ return(api.Relation.create(database=found.database, schema=found.schema,
                                  identifier=found.identifier)) }}
{%- endmacro %}

{#- A model upstream of the current one (it is built before it in every run), without
    declaring a dependency; a compiler error if it is not upstream. -#}
{% macro upstream_relation(name) -%}
    {%- if not execute or not graph.get('nodes') -%}{{ return(name) }}{%- endif -%}
    {%- set ids = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == name -%}
        {%- do ids.append(node.unique_id) -%}
    {%- endfor -%}
    {%- set todo = [model.unique_id] -%}
    {%- set seen = [] -%}
    {%- for _ in range(10000) if todo -%}
        {%- set node_id = todo.pop() -%}
        {%- if node_id not in seen and node_id in graph.nodes -%}
            {%- do seen.append(node_id) -%}
            {%- do todo.extend(graph.nodes[node_id].depends_on.nodes) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not ids or ids[0] not in seen -%}
        {{ exceptions.raise_compiler_error(
            "slices: '" ~ name ~ "' is not upstream of " ~ model.name ~ ": it may be built after it") }}
    {%- endif -%}
    {%- set node = graph.nodes[ids[0]] -%}
    {{ return(api.Relation.create(database=node.database, schema=node.schema,
                                  identifier=node.alias)) }}
{%- endmacro %}

{#- Values of `columns` of the rows upstream model `model_name` removed or added since this
    model last ran. -#}
{% macro delta_changed(window, model_name, columns) -%}
    select distinct {{ columns | join(', ') }}
    from {{ delta_relation(model_name) }}
    where not _full and _batch > {{ window.after_batch }} and _batch <= {{ window.batch }}
{%- endmacro %}

{#- The slices of a calendar (`spine`) that the model's table (`existing`) lacks or has
    beyond it: days that joined it (as_of moved on, an earlier first order) or left it. -#}
{% macro calendar_changed(spine, existing, keys) -%}
    select {% for key in keys %}new_days.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ spine }} as new_days
    where not exists (
        select 1 from {{ existing }} as old_days
        where {% for key in keys %}old_days.{{ key }} = new_days.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    )
    union
    select {% for key in keys %}old_days.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ existing }} as old_days
    where not exists (
        select 1 from {{ spine }} as new_days
        where {% for key in keys %}old_days.{{ key }} = new_days.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    )
{%- endmacro %}

{#- The website days that `as_of` moved into or out of a sparse daily model (`existing`,
    with website_id and business_date): days of its rows' relation (`rows`, with
    website_id and the date column `date_column`, already cut at as_of) after the last
    day the model holds for the website, and days it holds after as_of (`websites`: each
    website's as_of_date). A day it lacks before its last day had no rows. -#}
{% macro as_of_changed(existing, rows, date_column, websites) -%}
    select new_days.website_id, new_days.{{ date_column }} as business_date
    from {{ rows }} as new_days
    where new_days.{{ date_column }} > coalesce(
        (select max(old_days.business_date) from {{ existing }} as old_days
         where old_days.website_id = new_days.website_id),
        cast('1900-01-01' as date))
    union
    select old_days.website_id, old_days.business_date
    from {{ existing }} as old_days
    inner join {{ websites }} as websites on old_days.website_id = websites.website_id
    where old_days.business_date > websites.as_of_date
{%- endmacro %}

{% macro json_text(column, field) -%}
    {{ return(adapter.dispatch('json_text', 'mealytics')(column, field)) }}
{%- endmacro %}

{% macro default__json_text(column, field) -%}
    json_extract_string({{ column }}, '$.{{ field }}')
{%- endmacro %}

{#- Called in the model's SQL as it is compiled for this run (dbt compiles a node on the
    connection that then runs it): how this run rebuilds the model (read back by the
    strategy and the post-hook), a temporary table of that connection, and in mode 'changes'
    the affected slices (`slices_relation`), committed with the model's rows. -#}
{% macro slices_stage(window, affected_sql) -%}
    {%- if execute and flags.WHICH in ('run', 'build') and slices_supported() -%}
        {%- do run_query(
            "create or replace temporary table " ~ slices_mode_relation(window.model)
            ~ " as select '" ~ window.mode ~ "' as mode, '" ~ window.reason | replace("'", "''")
            ~ "' as reason, '" ~ window.fingerprint ~ "' as fingerprint") -%}
        {%- if window.mode == 'changes' -%}
            {%- do run_query(
                "create or replace table " ~ window.slices
                ~ " as select distinct * from (" ~ affected_sql ~ ") as affected") -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro slices_mode_relation(model_name) -%}
    "__slices_mode_{{ model_name }}"
{%- endmacro %}

{#- The mode the model's header recorded for this run. -#}
{% macro slices_mode() %}
    {%- set found = run_query(
        'select mode, reason, fingerprint from ' ~ slices_mode_relation(this.identifier)) -%}
    {{ return({'mode': found.rows[0][0], 'reason': found.rows[0][1],
               'fingerprint': found.rows[0][2]}) }}
{% endmacro %}

{#- A condition keeping the rows of the affected slices: `columns` maps the slice key
    (unique_key) to the expression of the rows filtered ({'user_id': 'orders.user_id'}). -#}
{% macro slices_filter(window, columns) -%}
    {%- if window.mode == 'changes' -%}
        exists (
            select 1 from {{ window.slices }} as s
            where {% for key, expression in columns.items() -%}
                s.{{ key }} is not distinct from {{ expression }}{{ ' and ' if not loop.last }}
            {%- endfor %}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The strategy: delta, then delete the affected slices and insert their new rows. -#}
{% macro get_incremental_slices_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set keys = arg_dict['unique_key'] -%}
    {%- set keys = [keys] if keys is string else keys -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set run = slices_batch() -%}
    {%- set delta = delta_relation(this.identifier) -%}
    {%- if slices_mode().mode == 'changes' -%}
        {%- set in_slices -%}
            exists (select 1 from {{ slices_relation(this.identifier) }} as s where
            {%- for key in keys %} s.{{ key }} is not distinct from t.{{ key }}{{ ' and' if not loop.last }}{% endfor %})
        {%- endset -%}
        insert into {{ delta }}
        select {{ run.batch }}, false, false, {{ columns }}
        from (
            select {{ columns }} from {{ target }} as t where {{ in_slices }}
            except all
            select {{ columns }} from {{ source }}
        ) as gone;
        insert into {{ delta }}
        select {{ run.batch }}, false, true, {{ columns }}
        from (
            select {{ columns }} from {{ source }}
            except all
            select {{ columns }} from {{ target }} as t where {{ in_slices }}
        ) as came;
        delete from {{ target }} as t where {{ in_slices }};
    {%- else -%}
        delete from {{ target }};
    {%- endif %}
    insert into {{ target }} ({{ columns }}) select {{ columns }} from {{ source }}
{% endmacro %}

{#-
    Post-hook of every slices model: what it consumed, in the same transaction as its rows.
    After a rebuild of every slice ('full', 'all') its delta is reset to one row marked
    `_full` (the models downstream rebuild whole); after 'changes' the strategy wrote it.
-#}
{% macro slices_done() %}
    {%- if not execute or not slices_supported() -%}{{ return('') }}{%- endif -%}
    {%- set run = slices_batch() -%}
    {%- set how = slices_mode() -%}
    {%- set delta = delta_relation(this.identifier) -%}
    {%- if how.mode != 'changes' -%}
        create or replace table {{ delta }} as
        select cast({{ run.batch }} as bigint) as _batch, true as _full, true as _after, *
        from {{ this }} where false;
        insert into {{ delta }} (_batch, _full, _after) values ({{ run.batch }}, true, true);
    {%- endif %}
    insert or replace into {{ slices_schema() }}._state
    values ('{{ this.identifier }}', {{ run.batch }}, {{ run.through }}, '{{ how.mode }}',
        '{{ how.reason | replace("'", "''") }}', '{{ how.fingerprint }}', now());
{% endmacro %}

{#-
    on-run-end: forget what every slices model has consumed: the change log's rows up to
    the smallest changes_through, and each delta's batches up to the smallest batch of the
    slices models (a model that has not run yet, or failed, keeps everything after its
    last success). Models no longer in the project are forgotten with their state.
-#}
{% macro slices_prune() %}
    {%- if not execute or flags.WHICH not in ('run', 'build') or not slices_supported() -%}{{ return('') }}{%- endif -%}
    {%- set names = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.config.get('incremental_strategy') == 'slices' -%}
            {%- do names.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not names -%}{{ return('') }}{%- endif -%}
    {%- set listed = "('" ~ names | join("', '") ~ "')" -%}
    {%- set found = run_query(
        "select count(*), min(changes_through), min(batch) from " ~ slices_schema()
        ~ "._state where model in " ~ listed) -%}
    {%- set states, through, batch = found.rows[0][0], found.rows[0][1], found.rows[0][2] -%}
    {%- set statements -%}
    delete from {{ slices_schema() }}._state where model not in {{ listed }};
    delete from {{ slices_schema() }}._runs
    where batch < (select min(batch) from {{ slices_schema() }}._state);
    {%- if states == names | length %}
    {%- if adapter.get_relation(database=target.database, schema='meta', identifier='_changes') is not none %}
    delete from meta._changes where seq <= {{ through }};
    {%- endif %}
    {%- for name in names %}
    {%- if adapter.get_relation(database=target.database, schema=slices_schema(), identifier=name ~ '__delta') is not none %}
    delete from {{ delta_relation(name) }} where _batch < {{ batch }} and not _full;
    {%- endif %}
    {%- endfor %}
    {%- endif %}
    {%- endset -%}
    {%- do slices_execute(statements) -%}
{% endmacro %}

{#-
    Data tests of a slices model rebuilt from its changes in this run test the slices it
    rebuilt, not the whole table (dbt wraps every generic test's `model` in this macro; the
    test's own `where` config still applies). After a full or 'all' rebuild, outside
    `dbt build`/`run`, and for every other model, tests see the whole table, as dbt's own
    `get_where_subquery` does. Whole-table reconciliations are singular tests (tests/).
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set keys = slices_tested_keys(relation) -%}
    {%- if not where and not keys -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} as tested
        where {{ where if where else 'true' }}
        {%- if keys %}
            and exists (
                select 1 from {{ slices_relation(relation.identifier) }} as s
                where {% for key in keys -%}
                    s.{{ key }} is not distinct from tested.{{ key }}{{ ' and ' if not loop.last }}
                {%- endfor %}
            )
        {%- endif %}) dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}

{#- The slice keys of `relation` when it is a slices model rebuilt from its changes in
    this invocation; else none. -#}
{% macro slices_tested_keys(relation) %}
    {%- if not execute or flags.WHICH not in ('run', 'build') or not graph.get('nodes')
        or relation.identifier is none or not slices_supported() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set tested = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
        and node.name == relation.identifier and node.schema == relation.schema
        and node.config.get('incremental_strategy') == 'slices' -%}
        {%- do tested.append(node) -%}
    {%- endfor -%}
    {%- if not tested -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query(
        "select count(*) from " ~ slices_schema() ~ "._state as state inner join "
        ~ slices_schema() ~ "._runs as runs on state.batch = runs.batch where state.model = '"
        ~ relation.identifier ~ "' and state.mode = 'changes' and runs.invocation_id = '"
        ~ invocation_id ~ "'") -%}
    {%- if found.rows[0][0] == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set keys = tested[0].config.unique_key -%}
    {{ return([keys] if keys is string else keys) }}
{% endmacro %}
