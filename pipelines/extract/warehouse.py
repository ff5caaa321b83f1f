"""The DuckDB side: schema `raw`, the sync state, the deletion audit trail, schema drift.

`raw._sync_state` holds one row per table: the watermark (a timestamp for `merge`
tables, an id for `append` tables), when the table last ran and the counts of that run.
It is written in the same transaction as the table's rows, so the two never disagree.

`raw._deleted_rows` keeps an audit trail of hard deletes found in the source: one row per
deleted key with the time it was noticed. We keep it because a hard delete removes the
evidence from both the source and `raw`, and analysts need to tell "abandoned and purged"
from "never existed" (and it makes delete detection testable). It only grows by the
number of deletes, which is small next to the tables.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from dataclasses import dataclass

import duckdb

from pipelines.errors import SchemaDriftError, WarehouseLockedError  # noqa: F401 (re-exported)
from pipelines.extract.plan import TablePlan, quote

log = logging.getLogger(__name__)

RAW = "raw"
SYNC_STATE = "_sync_state"
DELETED_ROWS = "_deleted_rows"


@dataclass(frozen=True)
class SyncState:
    table_name: str
    mode: str
    cursor_column: str | None
    watermark_ts: dt.datetime | None
    watermark_id: int | None
    last_run_at: dt.datetime | None
    last_delete_check_at: dt.datetime | None
    row_count: int | None
    #: The source's delete counter when the keys were last reconciled (PostgreSQL).
    delete_stamp: str | None = None


def run(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> list[tuple]:
    """Execute and fetch everything: DuckDB refuses new work while a result is unread."""
    return con.execute(sql, params or []).fetchall()


def connect(path: str, *, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC with `raw`, the sync state and the audit trail present.

    `memory_limit` (e.g. "512MB") caps DuckDB's buffer pool, which otherwise keeps written
    blocks cached up to 80 % of RAM; beyond the cap it spills to disk.
    """
    con = connect_waiting(path)
    owner_only(path)
    run(con, "SET TimeZone = 'UTC'")
    run(con, "SET enable_progress_bar = false")  # it would print into logs
    if memory_limit:
        run(con, f"SET memory_limit = '{_size(memory_limit)}'")
    ensure_meta(con)
    return con


#: How long to wait for another process (a reader holding the build file) to let go.
LOCK_WAIT_S = 30.0


def connect_waiting(
    path, *, read_only: bool = False, wait_s: float | None = None, first_pause_s: float = 0.2
) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting with backoff (up to `wait_s`, default LOCK_WAIT_S) while
    another process holds the file: readers belong on the published copy, but a stray one
    must not fail a run that a short wait would let through, nor hang it."""
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    pause = first_pause_s
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() + pause > deadline:
                raise WarehouseLockedError(
                    f"warehouse {path} is held by another process after waiting "
                    f"{wait_s:g} s (readers belong on the published copy): {exc}"
                ) from exc
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def owner_only(path: str | os.PathLike) -> None:
    """The warehouse holds customer data: make the file readable by its owner only."""
    if str(path) != ":memory:" and os.path.exists(path) and os.stat(path).st_uid == os.getuid():
        os.chmod(path, 0o600)


def _size(text: str) -> str:
    """A DuckDB size such as 512MB or 2GiB, validated (it is spliced into a SET)."""
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", text.strip(), re.IGNORECASE):
        raise ValueError(f"not a memory size: {text!r} (e.g. '512MB', '2GiB')")
    return text.strip()


def ensure_meta(con: duckdb.DuckDBPyConnection) -> None:
    run(con, f"CREATE SCHEMA IF NOT EXISTS {RAW}")
    run(
        con,
        f"""
        CREATE TABLE IF NOT EXISTS {RAW}.{SYNC_STATE} (
            table_name VARCHAR NOT NULL,
            mode VARCHAR NOT NULL,
            cursor_column VARCHAR,
            watermark_ts TIMESTAMPTZ,
            watermark_id BIGINT,
            last_run_at TIMESTAMPTZ NOT NULL,
            last_run_id VARCHAR,
            last_full_refresh_at TIMESTAMPTZ,
            last_delete_check_at TIMESTAMPTZ,
            rows_read BIGINT,
            rows_inserted BIGINT,
            rows_updated BIGINT,
            rows_deleted BIGINT,
            row_count BIGINT,
            duration_s DOUBLE,
            source_url VARCHAR
        )
        """,
    )
    # Added after the first warehouses were made.
    run(con, f"ALTER TABLE {RAW}.{SYNC_STATE} ADD COLUMN IF NOT EXISTS delete_stamp VARCHAR")
    run(
        con,
        f"""
        CREATE TABLE IF NOT EXISTS {RAW}.{DELETED_ROWS} (
            table_name VARCHAR NOT NULL,
            row_id BIGINT,
            row_key VARCHAR NOT NULL,
            deleted_detected_at TIMESTAMPTZ NOT NULL,
            run_id VARCHAR
        )
        """,
    )


def read_state(con: duckdb.DuckDBPyConnection, table: str) -> SyncState | None:
    rows = run(
        con,
        f"""
        SELECT table_name, mode, cursor_column, watermark_ts, watermark_id, last_run_at,
               last_delete_check_at, row_count, delete_stamp
        FROM {RAW}.{SYNC_STATE} WHERE table_name = ?
        """,
        [table],
    )
    return SyncState(*rows[0]) if rows else None


def write_state(con: duckdb.DuckDBPyConnection, **values) -> None:
    """Replace the table's state row (inside the caller's transaction)."""
    run(con, f"DELETE FROM {RAW}.{SYNC_STATE} WHERE table_name = ?", [values["table_name"]])
    names = list(values)
    run(
        con,
        f"INSERT INTO {RAW}.{SYNC_STATE} ({', '.join(names)}) "
        f"VALUES ({', '.join('?' for _ in names)})",
        [values[n] for n in names],
    )


def raw_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str] | None:
    """{column: DuckDB type} of `raw.<table>`, in order; None if the table does not exist.

    From `duckdb_columns()`: the same types as information_schema, at a third of the cost
    (it is asked once per table per run)."""
    rows = run(
        con,
        """
        SELECT column_name, data_type FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
        ORDER BY column_index
        """,
        [RAW, table],
    )
    return dict(rows) if rows else None


def create_table(con: duckdb.DuckDBPyConnection, plan: TablePlan) -> None:
    # No PRIMARY KEY constraint: its index slows bulk loads, and the merge keeps keys
    # unique (each read is one consistent snapshot of a keyed source table).
    cols = ", ".join(f"{quote(c.name)} {c.duck_type}" for c in plan.columns)
    run(con, f"CREATE TABLE {RAW}.{quote(plan.name)} ({cols})")


@dataclass(frozen=True)
class Drift:
    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    widened: tuple[tuple[str, str, str], ...] = ()  # (column, old, new)

    def __bool__(self) -> bool:
        return bool(self.added or self.dropped or self.widened)


_INT_RANK = {"SMALLINT": 1, "INTEGER": 2, "BIGINT": 3}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def widens(old: str, new: str) -> bool:
    """True if every value of type `old` fits `new` unchanged (a safe ALTER)."""
    if old in _INT_RANK and new in _INT_RANK:
        return _INT_RANK[new] >= _INT_RANK[old]
    o, n = _DECIMAL.fullmatch(old), _DECIMAL.fullmatch(new)
    if o and n:
        (op, os_), (np_, ns) = map(int, o.groups()), map(int, n.groups())
        return ns >= os_ and np_ - ns >= op - os_
    return False


def compare(plan: TablePlan, existing: dict[str, str]) -> Drift:
    """How the source's columns differ from the raw table's; raises on an incompatible type."""
    added, widened = [], []
    for col in plan.columns:
        old = existing.get(col.name)
        if old is None:
            added.append(col.name)
        elif old != col.duck_type:
            if not widens(old, col.duck_type):
                raise SchemaDriftError(
                    f"table {plan.name!r}: column {col.name!r} changed type incompatibly: "
                    f"raw.{plan.name} has {old}, the source now has {col.source_type} "
                    f"({col.duck_type}). Migrate raw.{plan.name} by hand (or drop it to "
                    "re-copy it); other tables are not affected."
                )
            widened.append((col.name, old, col.duck_type))
    source_names = set(plan.column_names)
    dropped = tuple(c for c in existing if c not in source_names)
    return Drift(tuple(added), dropped, tuple(widened))


def apply_drift(con: duckdb.DuckDBPyConnection, plan: TablePlan, drift: Drift) -> None:
    """Follow the source (inside the caller's transaction): add columns, widen types.

    A dropped source column stays in raw (history keeps its values); rows written from now
    on carry NULL in it.
    """
    table = f"{RAW}.{quote(plan.name)}"
    for name in drift.added:
        run(con, f"ALTER TABLE {table} ADD COLUMN {quote(name)} {plan.column(name).duck_type}")
    for name, _old, new in drift.widened:
        run(con, f"ALTER TABLE {table} ALTER COLUMN {quote(name)} TYPE {new}")
    for name in drift.dropped:
        log.warning(
            "table %r: column %r is gone from the source; raw.%s keeps it, NULL from now on",
            plan.name,
            name,
            plan.name,
        )
