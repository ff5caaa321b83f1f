"""Timestamp and date text that does not parse: the row is kept, the value NULL, its text recorded.

SQLite stores a Django DateTimeField or DateField as text, and nothing stops a row from
holding 'not a date' or '2026-13-45'. The fast path parses timestamp text in the reader
(Arrow, vectorized: `readers.timestamps.parse_timestamps`) and date text in DuckDB (CAST),
so one such value fails its whole table. Instead:

- The fast path is unchanged. Only when a SQLite table fails with such a conversion error
  (its transaction is rolled back by then, its stream consumed) is it extracted once more,
  on the same read snapshot, in tolerant mode (`TolerantSession`): timestamp and date
  columns are read as text and parsed exactly as the fast path parses them (the same
  functions), value by value where a batch fails. A value that does not parse becomes
  NULL in raw (the row is kept, every other column as the source has it) and its text is
  written to `meta._rejected_values` (table_name, row_key, column_name, raw_value, rule,
  run_id, seen_at) in the same transaction as the rows, with a warning in the log. A value
  already recorded for the same row and column is not recorded again.
- The watermark: max(updated_at) ignores NULL, so an unparsable cursor neither lifts nor
  lowers it. SQLite's julianday() of such text is NULL too, so the cursor does not see the
  row again: it stays as copied until its updated_at parses (Django's auto_now rewrites it
  on the next save); a row the cursor never saw is still copied by key reconciliation.
- The `parsable_timestamps` asset check (`pipelines.defs.raw.quality`) fails for each
  recorded value whose row is still in raw with that column NULL, naming table, key,
  column and rule (`unparsable_timestamp`, `unparsable_date`).

PostgreSQL (and any typed source) cannot hold such text: no tolerant mode there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from pipelines import duck
from pipelines.extract import warehouse as wh
from pipelines.extract.plan import DATE, TEXT, TIMESTAMP, TablePlan
from pipelines.extract.readers.timestamps import UTC_US as _UTC_US
from pipelines.extract.readers.timestamps import parse_timestamps
from pipelines.extract.stream import registered

log = logging.getLogger(__name__)

REJECTED_VALUES = "_rejected_values"
TIMESTAMP_RULE = "unparsable_timestamp"
DATE_RULE = "unparsable_date"
#: Rejected values named in the log line (all are in the table).
LOGGED = 5


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """`meta._rejected_values`, created on the first rejected value only."""
    wh.run(
        con,
        f"""
        CREATE TABLE IF NOT EXISTS {wh.META}.{REJECTED_VALUES} (
            table_name VARCHAR NOT NULL,
            row_key VARCHAR,
            column_name VARCHAR NOT NULL,
            raw_value VARCHAR,
            rule VARCHAR NOT NULL,
            run_id VARCHAR,
            seen_at TIMESTAMPTZ NOT NULL
        )
        """,
    )


def _parsed_columns(plan: TablePlan) -> dict[str, str]:
    """{column: kind} of the columns whose text the warehouse parses."""
    return {c.name: c.kind for c in plan.columns if c.kind in (TIMESTAMP, DATE)}


def is_conversion_error(exc: BaseException, plan: TablePlan) -> bool:
    """Did the table fail on timestamp or date text that does not parse?"""
    if plan.dialect != "sqlite" or not _parsed_columns(plan):
        return False
    text = str(exc)
    if isinstance(exc, pa.ArrowInvalid):
        # readers.timestamps.parse_timestamps (and the portable reader's date parse)
        return "Failed to parse string" in text and ("timestamp" in text or "date32" in text)
    if isinstance(exc, duckdb.ConversionException):
        # DuckDB's CAST(text AS DATE) of the fast path
        return "date" in text.lower()
    return False


def extract_tolerantly(extract: Callable, con, session, plan: TablePlan, options):
    """`extract(con, session, plan, options)`; on a conversion error, once more, tolerantly."""
    try:
        return extract(con, session, plan, options)
    except (pa.ArrowInvalid, duckdb.ConversionException) as exc:
        if not is_conversion_error(exc, plan):
            raise
        reason = str(exc).strip().splitlines()[0].split(": expected")[0]
    log.warning(
        "raw.%s: a timestamp or date does not parse (%s): reading the table again, keeping "
        "such values as NULL and their text in meta.%s",
        plan.name,
        reason,
        REJECTED_VALUES,
    )
    tolerant = TolerantSession(session, plan)
    before = options.before_commit

    def before_commit(con, run_id: str) -> None:
        if before is not None:
            before(con, run_id)
        tolerant.record(con, run_id)

    return extract(con, tolerant, plan, dataclasses.replace(options, before_commit=before_commit))


def _text_plan(plan: TablePlan) -> TablePlan:
    """The plan with timestamp and date columns read as text (in the SQLAlchemy table too,
    whose SQLite DateTime type would parse the text itself)."""
    parsed = _parsed_columns(plan)
    columns = tuple(
        dataclasses.replace(c, kind=TEXT) if c.name in parsed else c for c in plan.columns
    )
    table = plan.table
    if table is not None:
        copy = [
            sa.Column(c.name, sa.Text() if c.name in parsed else c.type, primary_key=c.primary_key)
            for c in table.columns
        ]
        table = sa.Table(table.name, sa.MetaData(), *copy, schema=table.schema)
    return dataclasses.replace(plan, columns=columns, table=table)


class TolerantSession:
    """A read session whose rows carry NULL where timestamp or date text does not parse;
    the text is kept in `rejects` (the reader thread appends, `record` writes).

    Everything else (keys, fingerprints, counts) is the wrapped session's."""

    def __init__(self, session, plan: TablePlan) -> None:
        self._inner = session
        self._plan = plan
        self._text_plan = _text_plan(plan)
        self._lock = threading.Lock()
        #: (row_key, column, raw text, rule)
        self.rejects: list[tuple[str | None, str, str, str]] = []

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def rows(
        self, plan: TablePlan, since: object | None = None, keys: list | None = None, ranges=None
    ):
        assert plan.name == self._plan.name
        reader = self._inner.rows(self._text_plan, since, keys, ranges)
        parsed = _parsed_columns(plan)
        schema = pa.schema(
            [
                pa.field(f.name, _UTC_US) if parsed.get(f.name) == TIMESTAMP else f
                for f in reader.schema
            ]
        )
        pk = plan.primary_key
        dates = _DateChecker() if DATE in parsed.values() else None

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                cols = []
                for name, col in zip(batch.schema.names, batch.columns, strict=True):
                    kind = parsed.get(name)
                    if kind is None:
                        cols.append(col)
                        continue
                    text = col
                    if kind == TIMESTAMP:
                        values, bad = _parse_tolerantly(text)
                    else:
                        values, bad = dates.check(text)
                    if bad:
                        self._reject(batch, pk, name, text, bad, kind)
                    cols.append(values)
                yield pa.RecordBatch.from_arrays(cols, schema=schema)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def _reject(self, batch, pk, column: str, text: pa.Array, bad: list[int], kind: str) -> None:
        rule = TIMESTAMP_RULE if kind == TIMESTAMP else DATE_RULE
        keys = [batch.column(k) for k in pk]
        found = [
            (
                "|".join(str(k[i].as_py()) for k in keys) if keys else None,
                column,
                text[i].as_py(),
                rule,
            )
            for i in bad
        ]
        with self._lock:
            self.rejects.extend(found)

    def record(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        """Write the rejected values (inside the table's transaction), each new one once."""
        if not self.rejects:
            return
        write_values(con, self._plan.name, self.rejects, run_id)
        shown = "; ".join(
            f"key {k}: {c}={v!r} ({r})" for k, c, v, r in sorted(set(self.rejects))[:LOGGED]
        )
        log.warning(
            "raw.%s: %d values do not parse, kept as NULL (rows kept), text in meta.%s: %s",
            self._plan.name,
            len(self.rejects),
            REJECTED_VALUES,
            shown,
        )


def write_values(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    rejects: list[tuple[str | None, str, str, str]],
    run_id: str,
) -> None:
    """Record (row_key, column, raw text, rule) of `table_name` in `meta._rejected_values`,
    inside the caller's transaction; a value already recorded for the same row and column
    is not recorded again."""
    ensure_table(con)
    data = text_columns(("row_key", "column_name", "raw_value", "rule"), rejects)
    with registered(con, "__extract_rejects", data) as name:
        wh.run(
            con,
            f"""
            INSERT INTO {wh.META}.{REJECTED_VALUES}
            SELECT DISTINCT ?, n.row_key, n.column_name, n.raw_value, n.rule, ?, ?
            FROM {name} n
            WHERE NOT EXISTS (
                SELECT 1 FROM {wh.META}.{REJECTED_VALUES} o
                WHERE o.table_name = ? AND o.row_key IS NOT DISTINCT FROM n.row_key
                  AND o.column_name = n.column_name
                  AND o.raw_value IS NOT DISTINCT FROM n.raw_value
            )
            """,
            [table_name, run_id, dt.datetime.now(dt.UTC), table_name],
        )


def text_columns(names: tuple[str, ...], rows: list[tuple]) -> pa.Table:
    """`rows` (tuples of text or None) as an Arrow table of string columns `names`."""
    return pa.table({n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)})


def _parse_tolerantly(text: pa.Array) -> tuple[pa.Array, list[int]]:
    """`parse_timestamps`, with NULL where a value does not parse: (values, bad positions).

    A failing array is halved until the failures are single values: the good values go
    through the fast path's own parser, in slices, so they parse exactly as it would."""
    try:
        return parse_timestamps(text), []
    except pa.ArrowInvalid:
        if len(text) == 1:
            return pa.nulls(1, _UTC_US), [0]
    mid = len(text) // 2
    left, bad_left = _parse_tolerantly(text.slice(0, mid))
    right, bad_right = _parse_tolerantly(text.slice(mid))
    values = pa.concat_arrays([left, right])
    return values, bad_left + [mid + i for i in bad_right]


class _DateChecker:
    """Date text checked with DuckDB's own TRY_CAST (the fast path CASTs in DuckDB), in a
    private in-memory database of the reader thread; bad values become NULL, still text."""

    def __init__(self) -> None:
        self._con: duckdb.DuckDBPyConnection | None = None

    def check(self, text: pa.Array) -> tuple[pa.Array, list[int]]:
        if self._con is None:
            self._con = duck.connect(":memory:")
        t = pa.table({"i": pa.array(range(len(text)), pa.int64()), "x": text})
        self._con.register("__dates", t)
        try:
            bad = [
                r[0]
                for r in self._con.execute(
                    "SELECT i FROM __dates WHERE x IS NOT NULL AND TRY_CAST(x AS DATE) IS NULL "
                    "ORDER BY i"
                ).fetchall()
            ]
        finally:
            self._con.unregister("__dates")
        if not bad:
            return text, []
        mask = [False] * len(text)
        for i in bad:
            mask[i] = True
        return pc.if_else(pa.array(mask), pa.nulls(len(text), text.type), text), bad
