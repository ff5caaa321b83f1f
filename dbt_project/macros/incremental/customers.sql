{#
    Helpers of the customer models' slices (macros/incremental/slices.sql is the framework).
#}

{#-
    Values of `columns` whose rows in upstream slices model `model_name` changed since this
    model last ran, by the net of its deltas: per value of `columns`, the rows added minus
    the rows removed over the window's batches; listed when that is not zero (values held
    before the changes: net < 0; held after them: net > 0). Unlike delta_changed, a row
    rewritten with the same `columns` (only another column changed: a VIP flag, the first
    counted date) is not listed, nor one changed and changed back: a model that reads no
    other column of the upstream rows, as a multiset, cannot change by them.
-#}
{% macro delta_net_changed(window, model_name, columns) -%}
    select {{ columns | join(', ') }}
    from {{ delta_relation(model_name) }}
    where not _full and _batch > {{ window.after_batch }} and _batch <= {{ window.batch }}
    group by {{ columns | join(', ') }}
    having sum(case when _after then 1 else -1 end) <> 0
{%- endmacro %}

{#- A condition keeping the rows some affected slice `s` matches by `condition` (SQL over
    `s.<slice key>` and the filtered rows' columns): a coarser filter than slices_filter,
    for inputs that do not carry the slice key (every slice's month, for instance). -#}
{% macro slices_match(window, condition) -%}
    {%- if window.mode == 'changes' -%}
        exists (select 1 from {{ window.slices }} as s where {{ condition }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#-
    Like raw_changed, for the changed rows of raw `table` whose `watched` columns ({name:
    type}) changed: a row inserted or deleted, or updated with a watched column that
    differs from one of its before images; the values of `columns` ({name: type}) before
    and after. A model that reads no other column of the table cannot change by the other
    updates (a loyalty account's balance, a user's last login).
-#}
{% macro raw_changed_watched(window, table, columns, watched, key='id') -%}
    {%- set differs -%}
        {%- for name, type in watched.items() -%}
            cast({{ json_text('c.before', name) }} as {{ type }}) is distinct from now_.{{ name }}
            {{- ' or ' if not loop.last }}
        {%- endfor -%}
    {%- endset -%}
    select {% for name in columns %}now_.{{ name }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ raw_relation(table) }} as now_
    inner join ({{ raw_changes(window, table) }}) as c on now_.{{ key }} = c.row_id
    where c.before is null or {{ differs }}
    union
    select {% for name, type in columns.items() -%}
        cast({{ json_text('c.before', name) }} as {{ type }}) as {{ name }}{{ ', ' if not loop.last }}
    {%- endfor %}
    from ({{ raw_changes(window, table) }}) as c
    left join {{ raw_relation(table) }} as now_ on now_.{{ key }} = c.row_id
    where c.before is not null and (now_.{{ key }} is null or {{ differs }})
{%- endmacro %}
