"""The DuckDB side: the connection, schema `raw`, and schema `meta` of the bookkeeping.

`raw` holds the source's tables under their own names, and nothing else: the
extraction's bookkeeping (sync state, deletion audit trail, rejected values and rows)
lives in schema `meta` (`META`), so a source table with any name (even `_sync_state`)
has its own place in raw. A warehouse made before kept them in raw as `raw._sync_state`,
`raw._deleted_rows`, `raw._rejected_values`, `raw._rejected_rows`: the first `connect`
moves their rows into `meta` and drops the old tables, in one transaction
(`migrate_bookkeeping`).

Every statement of the extraction goes through `run` (the crash-safety tests count and
interrupt them there). `meta._sync_state` is read and written by `state`, drift is
followed by `drift`; this module creates both bookkeeping tables, and has `changes` create
the change log `meta._changes` (with its sequence `meta._change_seq`).

`meta._deleted_rows` keeps an audit trail of hard deletes found in the source: one row per
deleted key with the time it was noticed. We keep it because a hard delete removes the
evidence from both the source and `raw`, and analysts need to tell "abandoned and purged"
from "never existed" (and it makes delete detection testable). It only grows by the
number of deletes, which is small next to the tables.
"""

from __future__ import annotations

import logging
import os
import re
import time

import duckdb

from pipelines import duck
from pipelines.errors import WarehouseLockedError  # noqa: F401 (re-exported)
from pipelines.extract.plan import TablePlan, quote

log = logging.getLogger(__name__)

RAW = "raw"
#: The schema of the extraction's bookkeeping tables (sync state, audit trail, rejects).
META = "meta"
SYNC_STATE = "_sync_state"
DELETED_ROWS = "_deleted_rows"


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
            return duck.connect(path, read_only=read_only)
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


#: Every bookkeeping table in `META` (the rejects' tables are created on first use).
BOOKKEEPING = (SYNC_STATE, DELETED_ROWS, "_rejected_values", "_rejected_rows")


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        run(
            con,
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?",
            [schema, table],
        )[0][0]
    )


def migrate_bookkeeping(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Bookkeeping tables of an older warehouse moved from `raw` into `META` (rows and
    columns as they were; the old tables dropped), in one transaction. Only while `META`
    lacks that table: afterwards a `raw._sync_state` is a source table's copy. Which moved."""
    old = [t for t in BOOKKEEPING if _exists(con, RAW, t) and not _exists(con, META, t)]
    if not old:
        return []
    run(con, "BEGIN TRANSACTION")
    try:
        for table in old:
            run(con, f"CREATE TABLE {META}.{table} AS SELECT * FROM {RAW}.{table}")
            run(con, f"DROP TABLE {RAW}.{table}")
        run(con, "COMMIT")
    except BaseException:
        run(con, "ROLLBACK")
        raise
    log.warning("bookkeeping moved from schema %s to %s: %s", RAW, META, ", ".join(old))
    return old


def ensure_meta(con: duckdb.DuckDBPyConnection) -> None:
    run(con, f"CREATE SCHEMA IF NOT EXISTS {RAW}")
    run(con, f"CREATE SCHEMA IF NOT EXISTS {META}")
    migrate_bookkeeping(con)
    run(
        con,
        f"""
        CREATE TABLE IF NOT EXISTS {META}.{SYNC_STATE} (
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
    run(con, f"ALTER TABLE {META}.{SYNC_STATE} ADD COLUMN IF NOT EXISTS delete_stamp VARCHAR")
    # PostgreSQL's xmin cursor (see `xmin`): NULL in older rows, so their next read is whole.
    for column, type_ in (
        ("xid_watermark", "BIGINT"),
        ("xid_horizon", "BIGINT"),
        ("xid_origin", "VARCHAR"),
    ):
        run(con, f"ALTER TABLE {META}.{SYNC_STATE} ADD COLUMN IF NOT EXISTS {column} {type_}")
    run(
        con,
        f"ALTER TABLE {META}.{SYNC_STATE} "
        "ADD COLUMN IF NOT EXISTS last_content_check_at TIMESTAMPTZ",
    )
    run(
        con,
        f"""
        CREATE TABLE IF NOT EXISTS {META}.{DELETED_ROWS} (
            table_name VARCHAR NOT NULL,
            row_id BIGINT,
            row_key VARCHAR NOT NULL,
            deleted_detected_at TIMESTAMPTZ NOT NULL,
            run_id VARCHAR
        )
        """,
    )
    from pipelines.extract import changes  # it builds on this module

    changes.ensure_table(con)


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
