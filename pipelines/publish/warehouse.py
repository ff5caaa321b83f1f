"""Publishing the warehouse for readers: a complete copy, swapped in atomically.

DuckDB lets many read-only processes OR one writer open a file. If analysts and BI tools
opened the build file (`MEALYTICS_WAREHOUSE`), one long query would block the daily run,
and a run would lock them out for its whole length. So the run writes the build file, and
its last step publishes a copy for readers (`MEALYTICS_PUBLISHED`, by default
`published.duckdb` beside the build file, or in `MEALYTICS_PUBLISH_DIR`):

1. open the build file briefly to CHECKPOINT it (everything in the WAL reaches the file),
   waiting a bounded time if another process holds it, then failing with DuckDB's message,
   which names the holder's PID;
2. copy its database (every schema, table, view and macro: `COPY FROM DATABASE`) into a
   temporary file in the published file's folder, written in an older storage format
   (`PUBLISHED_STORAGE_VERSION`) so that readers older than DuckDB 2.0 open it too, and add
   a manifest (`publish.manifest`: each mart's rows and Σ of its money columns, the time);
3. fsync the copy, make it owner-only (0600), rename it over the published file, fsync
   the folder.

A reader that opened the old file keeps reading that complete old version (its inode
lives until it closes); a new reader opens the new one. Nobody ever sees half a copy.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from pipelines import duck
from pipelines.extract.warehouse import LOCK_WAIT_S, WarehouseLockedError, connect_waiting
from pipelines.publish import leftovers

MANIFEST = "publish.manifest"

#: The storage format of the published copy. DuckDB 2.0 writes storage version 69 by
#: default, which no DuckDB before 2.0 can open: not PyPI's `duckdb-cli` (1.5), not a BI
#: tool or notebook on DuckDB 1.x. "v1.0.0" (storage version 64) is read by every DuckDB
#: since 0.10 (and written by DuckDB 2.0 on request); it lacks the compression of later
#: formats (the demo's copy is about 10 % larger). The build file keeps DuckDB's default.
PUBLISHED_STORAGE_VERSION = "v1.0.0"


#: Another process holds the build file (the CLI prints it as one line).
WarehouseBusyError = WarehouseLockedError


def _literal(value: str | os.PathLike) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_manifest(con: duckdb.DuckDBPyConnection, published_at: dt.datetime) -> int:
    marts = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    ]
    con.execute("create schema if not exists publish")
    con.execute(
        f"create or replace table {MANIFEST} (mart varchar, row_count bigint, "
        "money_sum decimal(38, 4), published_at timestamptz)"
    )
    for mart in marts:
        money = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_schema = "
                "'marts' and table_name = ? and data_type like 'DECIMAL%' order by 1",
                [mart],
            ).fetchall()
        ]
        total = " + ".join(f'coalesce(sum("{c}"), 0)' for c in money) or "0"
        rows, money_sum = con.execute(
            f'select count(*), cast({total} as decimal(38, 4)) from marts."{mart}"'
        ).fetchone()
        con.execute(
            f"insert into {MANIFEST} values (?, ?, ?, ?)", [mart, rows, money_sum, published_at]
        )
    return len(marts)


def publish_warehouse(
    warehouse_path: str | os.PathLike,
    target: str | os.PathLike,
    *,
    wait_s: float = LOCK_WAIT_S,
    storage_version: str = PUBLISHED_STORAGE_VERSION,
) -> dict:
    """Copy the build file's database to `target` (in `storage_version`) atomically;
    returns {path, marts, bytes}."""
    source, target = Path(warehouse_path), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    leftovers.sweep(target.parent, {target.name})
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        con = connect_waiting(source, wait_s=wait_s)
        old = os.umask(0o077)
        try:
            con.execute("checkpoint")
            build = con.execute("select current_database()").fetchone()[0]
            temporary.unlink(missing_ok=True)
            con.execute(
                f"attach {_literal(temporary)} as __published "
                f"(storage_version {_literal(storage_version)})"
            )
            con.execute(f"copy from database {_identifier(build)} to __published")
            con.execute("detach __published")
        finally:
            os.umask(old)
            con.close()
        os.chmod(temporary, 0o600)
        con = duck.connect(temporary)
        try:
            marts = _write_manifest(con, dt.datetime.now(dt.UTC))
            con.execute("checkpoint")
        finally:
            con.close()
        Path(f"{temporary}.wal").unlink(missing_ok=True)  # checkpointed: nothing in it
        _fsync(temporary)
        os.replace(temporary, target)
        _fsync(target.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return {"path": str(target), "marts": marts, "bytes": target.stat().st_size}
