"""The DuckDB statements of a table's load, each built by a small pure function.

As dlt builds its merge (`SqlMergeFollowupJob`: `gen_key_table_clauses`,
`gen_delete_from_sql`, …), every statement here is a function of names and plans only,
returning SQL text that names tables and columns (quoted) and never embeds a row's value:
the few values a statement needs are DuckDB parameters (`?`) or, for the cursor bounds
that must reach DuckDB's row-group pruning, typed constants built from Python datetimes.
`tests/unit/test_extract_merge_sql.py` checks them on tiny inputs and against DuckDB.

Aliases: `s` the stage (the rows just read), `r` raw, `k` a set of keys, `g` keys gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pyarrow as pa

from pipelines.extract.plan import DECIMAL, INTEGER, TIMESTAMP, ColumnPlan, TablePlan, quote, quoted

# -- typing what arrives ---------------------------------------------------------------------


def cast_column(col: ColumnPlan, arrow_type: pa.DataType) -> str:
    """DuckDB expression turning the incoming Arrow column into the warehouse type."""
    q = quote(col.name)
    if col.kind == DECIMAL and pa.types.is_floating(arrow_type):
        # Never a double's binary expansion: the guard (`guard`, `exact`) hands every
        # DECIMAL column over as exact decimal128; a float here is a reader's bug.
        raise TypeError(f"DECIMAL column {col.name!r} arrived as {arrow_type}, not exact")
    if col.kind == TIMESTAMP:
        # Text in any ISO form (offset or not, fraction or not) or an Arrow timestamp;
        # naive values are UTC (the session time zone).
        return f"CAST({q} AS TIMESTAMPTZ) AS {q}"
    return f"CAST({q} AS {col.duck_type}) AS {q}"


def select_typed(
    plan: TablePlan, names: Sequence[str], arrow_types: Mapping[str, pa.DataType], view: str
) -> str:
    """SELECT of `names` from the stream `view`, each cast to its warehouse type."""
    casts = ", ".join(cast_column(plan.column(n), arrow_types[n]) for n in names)
    return f"SELECT {casts} FROM {view}"


# -- small pieces ------------------------------------------------------------------------------


def join_on(a: str, b: str, names: Sequence[str]) -> str:
    """`a.x = b.x AND …`: the equality of `names` between aliases `a` and `b`."""
    return " AND ".join(f"{a}.{quote(n)} = {b}.{quote(n)}" for n in names)


def timestamp_literal(value: dt.datetime) -> str:
    """A cursor value as a DuckDB constant (an aware datetime, rendered in UTC)."""
    return f"CAST('{value.astimezone(dt.UTC).isoformat()}' AS TIMESTAMPTZ)"


def count_rows(table: str) -> str:
    return f"SELECT count(*) FROM {table}"


def is_empty(table: str) -> str:
    return f"SELECT count(*) = 0 FROM {table}"


def max_of(table: str, column: str) -> str:
    return f"SELECT max({quote(column)}) FROM {table}"


def insert_select(target: str, names: Sequence[str], select: str) -> str:
    """INSERT of `select`'s rows into `names` of `target` (raw's other columns: NULL)."""
    return f"INSERT INTO {target} ({quoted(names)}) {select}"


def insert_from(target: str, names: Sequence[str], table: str) -> str:
    """INSERT of `names` from `table` into `target`."""
    return insert_select(target, names, f"SELECT {quoted(names)} FROM {table}")


def create_temp(name: str, select: str) -> str:
    return f"CREATE OR REPLACE TEMP TABLE {name} AS {select}"


def drop_table(name: str) -> str:
    return f"DROP TABLE {name}"


# -- merging the stage into raw ----------------------------------------------------------------


def reread_condition(plan: TablePlan, watermark: dt.datetime | None, last_run_at) -> str:
    """Which staged rows `s` of an incremental read raw may already hold, unchanged.

    `merge`: the lookback window's, at or below the previous watermark; a row above it
    was not read before, so it changed, unless the previous watermark was capped at that
    run's start by a future-dated row (then any row may be a re-read). `append`: none.
    """
    if plan.mode == "append":
        return "false"
    if watermark is None or last_run_at is None:
        return "true"
    if watermark >= last_run_at:
        return "true"  # capped: rows above it were read too
    return f"s.{quote(plan.cursor)} <= {timestamp_literal(watermark)}"


def match_columns(plan: TablePlan) -> list[str]:
    """The columns identical rows share for the join: the key and the cursor. Joining on
    the cursor too lets DuckDB skip raw's row groups outside the stage's cursor range."""
    pk = list(plan.primary_key)
    return pk + ([plan.cursor] if plan.cursor and plan.cursor not in pk else [])


def unchanged_condition(plan: TablePlan, reread: str | None) -> str:
    """A staged row `s` identical to raw's row `r` (among the rows `reread` selects; None:
    any staged row)."""
    on = match_columns(plan)
    same = [
        f"s.{quote(c)} IS NOT DISTINCT FROM r.{quote(c)}" for c in plan.column_names if c not in on
    ]
    where = " AND ".join([join_on("s", "r", on), *same])
    return where + (f" AND ({reread})" if reread is not None else "")


def cursor_bounds(stage: str, cursor: str, reread: str | None) -> str:
    """The lowest and highest cursor of the re-read staged rows."""
    c = quote(cursor)
    return f"SELECT min(s.{c}), max(s.{c}) FROM {stage} s WHERE {reread or 'true'}"


def rows_between(target: str, cursor: str, low, high) -> str:
    """Raw's rows in a cursor range (timestamps, or an integer key), as a subquery:
    constant bounds reach DuckDB's scan (zone maps, then the other columns of matching
    rows only)."""
    c = quote(cursor)
    bound = (lambda v: str(int(v))) if isinstance(low, int) else timestamp_literal
    return f"(SELECT * FROM {target} WHERE {c} BETWEEN {bound(low)} AND {bound(high)})"


def delete_unchanged(stage: str, raw_rows: str, where: str) -> str:
    """Drop the staged rows raw already holds exactly (the lookback re-reads them)."""
    return f"DELETE FROM {stage} AS s USING {raw_rows} AS r WHERE {where}"


def count_changes(stage: str, target: str, pk: Sequence[str]) -> str:
    """(staged rows, of which raw has the key): raw's keys are unique, so the second
    count is the updates, the rest inserts."""
    return (
        f"SELECT count(*), count(r.{quote(pk[0])}) FROM {stage} s "
        f"LEFT JOIN {target} r ON {join_on('s', 'r', pk)}"
    )


def delete_matching(target: str, rows: str, pk: Sequence[str]) -> str:
    """Delete raw's rows whose key is in `rows` (the old versions of updates)."""
    return f"DELETE FROM {target} AS r USING {rows} AS s WHERE {join_on('r', 's', pk)}"


def delete_all(target: str) -> str:
    return f"DELETE FROM {target}"


# -- deletes and the audit trail ---------------------------------------------------------------


def row_key_exprs(plan: TablePlan, alias: str) -> tuple[str, str]:
    """(row_id, row_key) expressions of a key for the deletion audit trail: an integer key
    is both; another key is its parts joined by '|' (row_id NULL)."""
    pk = plan.primary_key
    if len(pk) == 1 and plan.column(pk[0]).kind == INTEGER:
        ref = f"{alias}.{quote(pk[0])}"
        return f"CAST({ref} AS BIGINT)", f"CAST({ref} AS VARCHAR)"
    parts = ", ".join(f"CAST({alias}.{quote(k)} AS VARCHAR)" for k in pk)
    return "NULL", f"concat_ws('|', {parts})"


def select_gone(gone: str, target: str, keys: str, pk: Sequence[str], where: str = "") -> str:
    """A temp table `gone` of raw's keys (among the rows `where` selects) absent from
    `keys`: what the source no longer has."""
    return create_temp(
        gone,
        f"SELECT {quoted(pk)} FROM (SELECT * FROM {target} r {where}) r "
        f"ANTI JOIN {keys} k ON {join_on('r', 'k', pk)}",
    )


def audit_deletes(plan: TablePlan, audit: str, gone: str) -> str:
    """Record each key of `gone` in the audit trail; parameters: table, time, run id."""
    row_id, row_key = row_key_exprs(plan, "g")
    return f"INSERT INTO {audit} SELECT ?, {row_id}, {row_key}, ?, ? FROM {gone} g"


def missing_keys(keys: str, target: str, pk: Sequence[str]) -> str:
    """The keys of `keys` (every key column) that raw lacks (rows the cursor missed), in
    order."""
    cols = ", ".join(f"k.{quote(k)}" for k in pk)
    return (
        f"SELECT {cols} FROM {keys} k ANTI JOIN {target} r ON {join_on('k', 'r', pk)} ORDER BY ALL"
    )


# -- key fingerprints (see `reconcile`) ----------------------------------------------------------


def _keys_of(table: str, key: str) -> str:
    return f"(SELECT CAST({quote(key)} AS BIGINT) AS k FROM {table})"


def key_totals(table: str, key: str) -> str:
    """count, Σ key, Σ (key & 0xFFFF)², min and max of an integer key column."""
    return (
        "SELECT count(k), coalesce(sum(k), 0), coalesce(sum((k & 65535) * (k & 65535)), 0), "
        f"min(k), max(k) FROM {_keys_of(table, key)}"
    )


def key_fingerprints(table: str, key: str, bits: int) -> str:
    """(bucket, "count sum sum2") per non-empty bucket `key >> bits`: the same
    expressions as the sources' (`ReadSession.key_fingerprints`)."""
    return (
        f"SELECT k >> {int(bits)} AS b, concat_ws(' ', count(*), sum(k), "
        f"sum((k & 65535) * (k & 65535))) FROM {_keys_of(table, key)} GROUP BY b"
    )


def in_buckets(key: str, ranges: Sequence[tuple[int, int]], bits: int, buckets: str) -> str:
    """WHERE of raw's rows `r` in the fetched buckets (listed in the view `buckets`); the
    outer bounds let DuckDB skip row groups."""
    k = f"CAST(r.{quote(key)} AS BIGINT)"
    return (
        f"WHERE {k} >= {int(ranges[0][0])} AND {k} < {int(ranges[-1][1])} "
        f"AND {k} >> {int(bits)} IN (SELECT b FROM {buckets})"
    )
