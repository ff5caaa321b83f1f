"""What every batch from the source passes before DuckDB sees it: money made exact, rows
with a NULL key refused. Runs in the reader thread (`TableJob.stream` wraps each stream).

- **DECIMAL columns** become exact `decimal128(p, s)` whatever form the reader delivered
  (text, float, integer): see `exact`. A value that breaks the column's type is rounded
  half-even or NULL, and its source text is written to `meta._rejected_values`.
- **A NULL in a primary key column** (SQLite allows it in any key that is not an INTEGER
  PRIMARY KEY, composite keys included): such a row cannot be merged by key (NULL never
  equals NULL, so it was appended again on every run) nor reconciled (its key is "absent"
  from every key set, so it was audited as deleted on every run). It is refused per row:
  never in raw, kept whole as JSON text in `meta._rejected_rows` (table_name, row_json,
  rule `null_primary_key`, first_seen_run_id, seen_at, resolved_at), recorded once while
  it stays the same (an identical unresolved record is not written again), logged with
  the table, the row and the rule, and named by the `keys_not_null` asset check
  (`pipelines.defs.raw.quality`). Key streams drop NULL keys too (they are counted), so
  reconciliation neither deletes nor backfills them. When a complete key listing of the
  table (a full copy's stage, or the reconciliation of every key) holds no NULL key, the
  table's open records are marked `resolved_at` (the row was fixed or deleted in the
  source), and the check passes again; the records stay as evidence.

- **Text that is not UTF-8** (SQLite stores whatever bytes an application wrote into a
  TEXT column, and so does a PostgreSQL database of encoding SQL_ASCII, whose readers take
  them as they are; DuckDB refuses such a string and the whole table with it): NULL in
  raw, the row loads, and the bytes are kept as text (UTF-8 with `\\xNN` escapes for the
  bad bytes) in `meta._rejected_values` with the rule `invalid_utf8`, the row's key and
  the column; the `valid_text` asset check names them.

The refusals of a stream are written by `flush` right after DuckDB has consumed it,
inside the table's transaction: a rollback forgets them with the rows. A warehouse built
before this kept such rows in raw (once per run); the first key reconciliation moves
them to `meta._rejected_rows` (`quarantine`) instead of auditing them as deleted.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.extract import changes as change_log
from pipelines.extract import exact, rejects
from pipelines.extract import warehouse as wh
from pipelines.extract.plan import DECIMAL, INTEGER, TablePlan, quote
from pipelines.extract.rejects import text_columns
from pipelines.extract.stream import registered

log = logging.getLogger(__name__)

REJECTED_ROWS = "_rejected_rows"
NULL_KEY_RULE = "null_primary_key"
INVALID_UTF8_RULE = "invalid_utf8"
#: Refusals named in a log line (all are in the tables).
LOGGED = 5


@dataclass
class Refusals:
    """What the reader thread refused in a table's streams, until `flush` writes it."""

    #: Rows with a NULL key: (row as JSON text, rule).
    rows: list[tuple[str, str]] = field(default_factory=list)
    #: Values that break their DECIMAL type: (row_key, column, source text, rule).
    values: list[tuple[str | None, str, str, str]] = field(default_factory=list)
    #: NULL keys seen in the job's streams (rows and keys), for `resolve`.
    null_keys: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> tuple[list[tuple[str, str]], list[tuple[str | None, str, str, str]]]:
        with self.lock:
            rows, values = self.rows, self.values
            self.rows, self.values = [], []
        return rows, values


def _decimals(plan: TablePlan, names: list[str]) -> dict[str, tuple[int, int]]:
    out = {}
    for name in names:
        try:
            col = plan.column(name)
        except KeyError:
            continue
        if col.kind == DECIMAL:
            out[name] = (col.precision, col.scale or 0)
    return out


def guarded(
    reader: pa.RecordBatchReader, plan: TablePlan, refusals: Refusals, *, keys: bool = False
) -> pa.RecordBatchReader:
    """`reader` with exact decimals and without rows whose key has a NULL; `keys`: a key
    stream (NULL keys dropped and counted, not recorded as rows)."""
    names = reader.schema.names
    decimals = _decimals(plan, names)
    pk = [k for k in plan.primary_key if k in names]
    if len(pk) != len(plan.primary_key):
        pk = []  # not a stream of the table's rows or keys: nothing to refuse by key
    halves = {exact.text_part(n) for n in decimals} & set(names)
    texts = [
        f.name
        for f in reader.schema
        if f.name not in halves and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    ]
    if not decimals and not pk and not texts:
        return reader
    schema = pa.schema(
        [
            pa.field(f.name, pa.decimal128(*decimals[f.name])) if f.name in decimals else f
            for f in reader.schema
            if f.name not in halves
        ]
    )

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            if texts and batch.num_rows:
                batch = _valid_text(batch, texts, pk, refusals, record=not keys)
            if pk:
                batch = _refuse_null_keys(batch, pk, refusals, record=not keys)
            if decimals and batch.num_rows:
                batch = _exact(batch, schema, decimals, pk, refusals, record=not keys)
            if batch.num_rows:
                yield batch.cast(schema) if batch.schema != schema else batch

    return pa.RecordBatchReader.from_batches(schema, batches())


def _valid_text(
    batch: pa.RecordBatch, texts: list[str], pk: list[str], refusals: Refusals, *, record: bool
) -> pa.RecordBatch:
    """`batch` with NULL where a text value is not UTF-8 (each recorded, its bytes kept
    as text with escapes)."""
    cols = list(batch.columns)
    found = []
    for name in texts:
        i = batch.schema.get_field_index(name)
        col = cols[i]
        try:
            col.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        raw = col.view(pa.binary() if pa.types.is_string(col.type) else pa.large_binary())
        values = raw.to_pylist()
        bad = []
        for j, value in enumerate(values):
            if value is None:
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(j)
        if not bad:
            continue
        mask = [False] * len(values)
        for j in bad:
            mask[j] = True
        kept = [None if mask[j] else v for j, v in enumerate(values)]
        cols[i] = pa.array(kept, raw.type).view(col.type)
        if record:
            keys = [batch.column(k) for k in pk]
            found += [
                (
                    "|".join(str(k[j].as_py()) for k in keys) if keys else None,
                    name,
                    values[j].decode("utf-8", "backslashreplace"),
                    INVALID_UTF8_RULE,
                )
                for j in bad
            ]
    if found:
        with refusals.lock:
            refusals.values.extend(found)
    return pa.RecordBatch.from_arrays(cols, schema=batch.schema)


def _refuse_null_keys(
    batch: pa.RecordBatch, pk: list[str], refusals: Refusals, *, record: bool
) -> pa.RecordBatch:
    if not any(batch.column(k).null_count for k in pk):
        return batch
    valid = pc.is_valid(batch.column(pk[0]))
    for k in pk[1:]:
        valid = pc.and_(valid, pc.is_valid(batch.column(k)))
    refused = batch.filter(pc.invert(valid))
    found = [(row_json(_joined(r)), NULL_KEY_RULE) for r in refused.to_pylist()] if record else []
    with refusals.lock:
        refusals.null_keys += refused.num_rows
        refusals.rows.extend(found)
    return batch.filter(valid)


def _joined(row: dict) -> dict:
    """A row without a DECIMAL column's second half (`exact.text_part`): its text, where
    it has one, is the value."""
    out = {}
    for name, value in row.items():
        text = row.get(exact.text_part(name))
        if name.endswith(exact.text_part("")):
            continue
        out[name] = text if text is not None else value
    return out


def row_json(row: dict) -> str:
    """A source row as JSON text, its columns in order; values JSON cannot hold (times,
    decimals, bytes) as their text."""
    return json.dumps(row, default=str, ensure_ascii=False)


def _exact(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    decimals: dict[str, tuple[int, int]],
    pk: list[str],
    refusals: Refusals,
    *,
    record: bool,
) -> pa.RecordBatch:
    cols = []
    found = []
    names = batch.schema.names
    for name, col in zip(names, batch.columns, strict=True):
        if name not in decimals:
            if name in schema.names:  # not a second half
                cols.append(col)
            continue
        half = exact.text_part(name)
        if half in names:
            values, bad = exact.exact_pair(col, batch.column(half), *decimals[name])
        else:
            values, bad = exact.exact_decimals(col, *decimals[name])
        cols.append(values)
        if bad and record:
            keys = [batch.column(k) for k in pk]
            found += [
                ("|".join(str(k[i].as_py()) for k in keys) if keys else None, name, text, rule)
                for i, text, rule in bad
            ]
    if found:
        with refusals.lock:
            refusals.values.extend(found)
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """`meta._rejected_rows`, created on the first refused row only."""
    wh.run(
        con,
        f"""
        CREATE TABLE IF NOT EXISTS {wh.META}.{REJECTED_ROWS} (
            table_name VARCHAR NOT NULL,
            row_json VARCHAR NOT NULL,
            rule VARCHAR NOT NULL,
            first_seen_run_id VARCHAR,
            seen_at TIMESTAMPTZ NOT NULL,
            resolved_at TIMESTAMPTZ
        )
        """,
    )


def flush(con: duckdb.DuckDBPyConnection, plan: TablePlan, refusals: Refusals, run_id: str) -> None:
    """Write what the streams refused so far (inside the table's transaction)."""
    rows, values = refusals.take()
    if values:
        rejects.write_values(con, plan.name, values, run_id)
        log.warning(
            "raw.%s: %d values break their column's type (a decimal rounded half-even or "
            "NULL, text that is not UTF-8 NULL; the source text in meta.%s): %s",
            plan.name,
            len(values),
            rejects.REJECTED_VALUES,
            "; ".join(f"key {k}: {c}={v!r} ({r})" for k, c, v, r in values[:LOGGED]),
        )
    if rows:
        _write_rows(con, plan.name, rows, run_id)
        log.warning(
            "raw.%s: %d rows refused, kept whole in meta.%s: %s",
            plan.name,
            len(rows),
            REJECTED_ROWS,
            "; ".join(f"{rule}: {text}" for text, rule in rows[:LOGGED]),
        )


def _write_rows(
    con: duckdb.DuckDBPyConnection, table_name: str, rows: list[tuple[str, str]], run_id: str
) -> None:
    ensure_table(con)
    data = text_columns(("row_json", "rule"), rows)
    with registered(con, "__extract_refused", data) as name:
        wh.run(
            con,
            f"""
            INSERT INTO {wh.META}.{REJECTED_ROWS}
            SELECT DISTINCT ?, n.row_json, n.rule, ?, ?, NULL FROM {name} n
            WHERE NOT EXISTS (
                SELECT 1 FROM {wh.META}.{REJECTED_ROWS} o
                WHERE o.table_name = ? AND o.row_json = n.row_json AND o.rule = n.rule
                  AND o.resolved_at IS NULL
            )
            """,
            [table_name, run_id, dt.datetime.now(dt.UTC), table_name],
        )


def quarantine(
    con: duckdb.DuckDBPyConnection,
    plan: TablePlan,
    run_id: str,
    changes: change_log.ChangeLog | None = None,
) -> int:
    """Rows of raw with a NULL key (copied before NULL keys were refused) moved to
    `meta._rejected_rows`, once each, instead of being audited as deletes (but logged as
    deletes in `changes`, a `changes.ChangeLog`, if given). How many."""
    pk = plan.primary_key
    if not pk or (len(pk) == 1 and plan.column(pk[0]).kind == INTEGER):
        return 0  # an integer key of one column is SQLite's rowid: never NULL
    target = f"{wh.RAW}.{quote(plan.name)}"
    nulls = " OR ".join(f"r.{quote(k)} IS NULL" for k in pk)
    (n,) = wh.run(con, f"SELECT count(*) FROM {target} r WHERE {nulls}")[0]
    if not n:
        return 0
    ensure_table(con)
    wh.run(
        con,
        f"""
        INSERT INTO {wh.META}.{REJECTED_ROWS}
        SELECT DISTINCT ?, CAST(to_json(r) AS VARCHAR) AS row_json, ?, ?, ?, NULL
        FROM {target} r WHERE ({nulls}) AND NOT EXISTS (
            SELECT 1 FROM {wh.META}.{REJECTED_ROWS} o
            WHERE o.table_name = ? AND o.row_json = CAST(to_json(r) AS VARCHAR)
              AND o.resolved_at IS NULL
        )
        """,
        [plan.name, NULL_KEY_RULE, run_id, dt.datetime.now(dt.UTC), plan.name],
    )
    if changes is not None:
        change_log.log_deletes_where(changes, n, nulls)
    wh.run(con, f"DELETE FROM {target} r WHERE {nulls}")
    log.warning(
        "raw.%s: %d rows with a NULL key (copied by an earlier version) moved to meta.%s",
        plan.name,
        n,
        REJECTED_ROWS,
    )
    return n


def resolve(con: duckdb.DuckDBPyConnection, plan: TablePlan, refusals: Refusals) -> int:
    """After a complete key listing of the table: if it held no NULL key, the table's open
    records of refused rows are resolved (fixed or deleted in the source). How many."""
    if refusals.null_keys or not plan.primary_key:
        return 0
    exists = wh.run(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
        [wh.META, REJECTED_ROWS],
    )[0][0]
    if not exists:
        return 0
    (n,) = wh.run(
        con,
        f"UPDATE {wh.META}.{REJECTED_ROWS} SET resolved_at = ? "
        "WHERE table_name = ? AND rule = ? AND resolved_at IS NULL",
        [dt.datetime.now(dt.UTC), plan.name, NULL_KEY_RULE],
    )[0]
    if n:
        log.info("raw.%s: %d refused rows no longer in the source: resolved", plan.name, n)
    return n
