"""The SQLite reader: ADBC (`adbc_driver_sqlite`) on the file opened read-only.

The driver guesses each column's Arrow type from the first batch, and SQLite's storage
classes vary row by row (a NUMERIC holds INTEGER 12 next to REAL 12.5, an all-NULL first
batch looks like integers). So every column is CAST to one storage class in the query, and
a first "hint" row of typed constants fixes the types; it is dropped. Timestamp text is
parsed in the reader thread (`timestamps.parse_timestamps`).

A DECIMAL column (Django declares `decimal`, NUMERIC affinity) holds REALs, INTEGERs and,
rarely, text. It is handed over in two columns (`exact.text_part`), so that nothing goes
through a conversion that loses: `CAST(x AS REAL)`, exact for every REAL and every
INTEGER within ±2^53, and beside it, NULL for those, the text of any other value (an
INTEGER's exact digits, a text as stored). The guard (`guard`, `exact`) joins them into
an exact decimal of the column's scale, each double as the shortest decimal that
round-trips it, never its binary expansion. (`CAST(x AS TEXT)` of a REAL is no
substitute: SQLite renders 15 significant digits in some versions and 17 in others.)
The second column costs ~0.2 s per million rows and decimal column.

A writer's lock: the connection waits for it as long as SQLite's own driver does (5 s),
then the driver reports "database is locked" as an invalid argument, without SQLite's
result code; the reader asks SQLite itself whether the file is locked (the standard
library's driver reports the code) and raises `SourceBusyError`, which is retried.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import adbc_driver_manager
import pyarrow as pa
import sqlalchemy as sa

from pipelines.errors import SourceBusyError, SourceUnavailableError
from pipelines.extract.exact import text_part
from pipelines.extract.plan import (
    BINARY,
    BOOLEAN,
    DATE,
    DECIMAL,
    FLOAT,
    INTEGER,
    TEXT,
    TIMESTAMP,
    TablePlan,
)
from pipelines.extract.readers.adbc import AdbcSession, close_quietly
from pipelines.extract.readers.conditions import key_range_condition, row_condition
from pipelines.extract.readers.timestamps import UTC_US, parse_timestamps
from pipelines.extract.retry import SQLITE_LOCK_CODES

#: How long a statement waits for another connection's lock (SQLite's own driver: 5 s).
BUSY_TIMEOUT_MS = 5000

_SQLITE_CAST = {
    INTEGER: (sa.Integer, "0"),
    BOOLEAN: (sa.Integer, "0"),
    DECIMAL: (sa.Float, "0.0"),  # REALs and small INTEGERs; any other value as text, beside
    FLOAT: (sa.Float, "0.0"),
    DATE: (sa.Text, "''"),
    TIMESTAMP: (sa.Text, "''"),
    TEXT: (sa.Text, "''"),
    BINARY: (sa.LargeBinary, "X''"),
}
_HINT = "__mealytics_hint"
#: Integers a double holds exactly.
_EXACT_INT = 2**53


def _decimal_parts(col) -> tuple:
    """(the value as a double, NULL where that is exact, else the value's text)."""
    kind = sa.func.typeof(col)
    exact_as_real = sa.or_(
        kind == "real", sa.and_(kind == "integer", sa.func.abs(col) < _EXACT_INT)
    )
    text = sa.case((exact_as_real, sa.null()), else_=sa.cast(col, sa.Text))
    return sa.cast(col, sa.Float), text


def _select_list(columns: list[tuple[str, str]], table: sa.Table | None) -> list:
    """The reader's columns, after the hint: `table` None gives the hint row's constants."""
    out = []
    for name, kind in columns:
        if table is None:
            out.append(sa.literal_column(_SQLITE_CAST[kind][1]).label(name))
            if kind == DECIMAL:
                out.append(sa.literal_column("''").label(text_part(name)))
        elif kind == DECIMAL:
            real, text = _decimal_parts(table.c[name])
            out += [real.label(name), text.label(text_part(name))]
        else:
            out.append(sa.cast(table.c[name], _SQLITE_CAST[kind][0]).label(name))
    return out


def sqlite_query(dialect, columns: list[tuple[str, str]], table: sa.Table, where) -> tuple:
    """(SQL, parameters) of the SQLite reader: the typed hint row, then the rows `where`
    selects, each column CAST to one storage class. The CASTs are in the select list
    only, so the WHERE (the cursor, key ranges) still uses the table's indexes."""
    hint = sa.select(sa.literal_column("0").label(_HINT), *_select_list(columns, None))
    body = sa.select(
        sa.literal_column("1").label(_HINT), *_select_list(columns, table)
    ).select_from(table)
    if where is not None:
        body = body.where(where)
    compiled = sa.union_all(hint, body).compile(
        dialect=dialect, compile_kwargs={"render_postcompile": True}
    )
    return str(compiled), tuple(compiled.params[k] for k in (compiled.positiontup or ()))


def file_is_locked(path: Path) -> bool:
    """Whether another connection holds a lock that keeps readers out of the file
    (SQLITE_BUSY / SQLITE_LOCKED), asked without waiting."""
    try:
        probe = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0)
    except sqlite3.Error:
        return False  # the file cannot be opened at all: not a lock
    try:
        probe.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.OperationalError as exc:
        return exc.sqlite_errorcode & 0xFF in SQLITE_LOCK_CODES
    finally:
        probe.close()
    return False


class SqliteSession(AdbcSession):
    stream_keys = True

    @classmethod
    def connect(cls, source):
        import adbc_driver_sqlite.dbapi as adbc

        try:
            conn = adbc.connect(f"file:{source.sqlite_path}?mode=ro", autocommit=True)
        except adbc_driver_manager.Error as exc:
            raise SourceUnavailableError(
                f"source {source.masked_url} is unavailable: {exc}"
            ) from exc
        cur = conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        finally:
            close_quietly(cur)
        return conn

    @contextmanager
    def _diagnosed(self) -> Iterator[None]:
        """A failed statement on a locked file becomes `SourceBusyError` (retried)."""
        try:
            yield
        except adbc_driver_manager.Error as exc:
            if file_is_locked(self.source.sqlite_path):
                raise SourceBusyError(
                    f"source {self.source.masked_url}: database is locked by another "
                    f"process (waited {BUSY_TIMEOUT_MS / 1000:g} s): {exc}"
                ) from exc
            raise

    def begin(self) -> None:
        # One read transaction: the key query sees the same snapshot as the data query.
        with self._diagnosed():
            self.execute("BEGIN")

    def _stream(
        self, columns: list[tuple[str, str]], table: sa.Table, where
    ) -> pa.RecordBatchReader:
        sql, params = sqlite_query(self.source.engine.dialect, columns, table, where)
        cur = self.cursor()
        cur.adbc_statement.set_options(
            **{"adbc.sqlite.query.batch_rows": str(self.source.batch_rows)}
        )
        with self._diagnosed():
            cur.execute(sql, params or None)
            reader = cur.fetch_record_batch()
        return _sqlite_batches(reader, {n for n, k in columns if k == TIMESTAMP})

    def rows(
        self,
        plan: TablePlan,
        since: object | None = None,
        keys: list | None = None,
        ranges: list[tuple[int, int]] | None = None,
    ) -> pa.RecordBatchReader:
        table = plan.table
        cols = [(c.name, c.kind) for c in plan.columns]
        return self._stream(cols, table, row_condition(plan, since, keys, table, ranges))

    def keys(
        self, plan: TablePlan, ranges: list[tuple[int, int]] | None = None
    ) -> pa.RecordBatchReader:
        cols = [(k, plan.column(k).kind) for k in plan.primary_key]
        return self._stream(cols, plan.table, key_range_condition(plan, ranges, plan.table))

    def fetch(self, query) -> list[tuple]:
        compiled = query.compile(
            dialect=self.source.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        params = tuple(compiled.params[k] for k in (compiled.positiontup or ()))
        cur = self.cursor()
        with self._diagnosed():
            cur.execute(str(compiled), params or None)
            return cur.fetchall()


def _sqlite_batches(reader: pa.RecordBatchReader, timestamps: set[str]) -> pa.RecordBatchReader:
    """Drop the type hint row and column; parse timestamp text (a DECIMAL column's two
    halves go on to the guard, which joins them)."""
    fields = [pa.field(f.name, UTC_US) if f.name in timestamps else f for f in reader.schema][1:]
    schema = pa.schema(fields)

    def batches() -> Iterator[pa.RecordBatch]:
        first = True
        for batch in reader:
            if first:
                first = False
                if batch.num_rows == 0 or batch.column(0)[0].as_py() != 0:
                    raise RuntimeError("SQLite reader: the type hint row did not come first")
                batch = batch.slice(1)
            if batch.num_rows:
                cols = [
                    parse_timestamps(col) if name in timestamps else col
                    for name, col in zip(batch.schema.names[1:], batch.columns[1:], strict=True)
                ]
                yield pa.RecordBatch.from_arrays(cols, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())
