"""The published DuckDB file: a small catalog of the marts, never a copy of the build file.

DuckDB lets many read-only processes OR one writer open a file. If analysts and BI tools
opened the build file (`MEALYTICS_WAREHOUSE`), one long query would block the daily run, and
a run would lock them out for its whole length; and the build file holds raw copies of
personal data (every customer's email, phone and name, health profiles) that readers must
never get. So each publication (`pipelines.publish.version`) writes, in its version folder,
the marts as Parquet (`pipelines.publish.parquet`) and `published.duckdb`, which holds:

- schema `marts`: one VIEW per mart over that version's Parquet (`read_parquet` of absolute
  paths into the immutable version folder: DuckDB resolves a relative path against the
  reader's working directory), with the mart's column types (a column whose Parquet type
  differs is cast back; none does today);
- the table macros of the build's schema marts (dbt's `table_macro` materialization:
  `marts.loyalty_calculate(…)`, …), which read the marts only;
- `publish.manifest`: each mart's rows and Σ of its money columns, and the time;

and nothing else: no raw, staging or intermediate relation, no row of the build file. It is
written in an older storage format (`PUBLISHED_STORAGE_VERSION`) so that readers older than
DuckDB 2.0 open it too, owner-only (0600), beside its final name, and renamed over it.

The macros are copied with DuckDB's own `COPY FROM DATABASE … (SCHEMA)` (schema only, no
data): `duckdb_functions()` gives a macro's body but not its parameters' defaults
(`website := null`). Everything else that copy creates (the other schemas' empty tables and
views, the marts' empty tables) is dropped in the same transaction, before the views are
created, and the file is checkpointed before it is renamed into place.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path

import duckdb

from pipelines.extract.warehouse import LOCK_WAIT_S, WarehouseLockedError
from pipelines.publish.data import MARTS

MANIFEST = "publish.manifest"
#: The catalog's name while the build connection writes it.
CATALOG = "__published"

#: The storage format of the published catalog. DuckDB 2.0 writes storage version 69 by
#: default, which no DuckDB before 2.0 can open: not PyPI's `duckdb-cli` (1.5), not a BI
#: tool or notebook on DuckDB 1.x. "v1.0.0" (storage version 64) is read by every DuckDB
#: since 0.10 (and written by DuckDB 2.0 on request). The build file keeps DuckDB's default.
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


def view_sql(
    con: duckdb.DuckDBPyConnection,
    source: str,
    columns: list[tuple[str, str]],
    partitioned: bool = False,
) -> str:
    """The SELECT of a mart's view: `read_parquet(source)` with the mart's `columns`
    ((name, type) in order); a column whose Parquet type differs is cast to the mart's. The
    month folders' names of a partitioned mart add no column (the files hold them all)."""
    scan = f"read_parquet({_literal(source)}"
    scan += ", hive_partitioning = false)" if partitioned else ")"
    found = dict(
        (r[0], r[1]) for r in con.execute(f"describe select * from {scan}").fetchall()
    )
    select = [
        _identifier(name)
        if found.get(name) == kind
        else f"cast({_identifier(name)} as {kind}) as {_identifier(name)}"
        for name, kind in columns
    ]
    return f"select {', '.join(select)} from {scan}"


def _drop_all_but_the_mart_macros(con: duckdb.DuckDBPyConnection) -> None:
    """In the catalog: drop every schema but marts (and DuckDB's own), every table, view and
    sequence, and every macro outside marts."""
    schemas = con.execute(
        "select schema_name from duckdb_schemas() where database_name = ? and not internal "
        "and schema_name != ?",
        [CATALOG, MARTS],
    ).fetchall()
    for (schema,) in schemas:
        con.execute(f"drop schema {CATALOG}.{_identifier(schema)} cascade")
    drops = con.execute(
        "select 'view', schema_name, view_name from duckdb_views() "
        "where database_name = $1 and not internal "
        "union all select 'table', schema_name, table_name from duckdb_tables() "
        "where database_name = $1 "
        "union all select 'sequence', schema_name, sequence_name from duckdb_sequences() "
        "where database_name = $1 "
        "union all select case when function_type = 'table_macro' then 'macro table' "
        "else 'macro' end, schema_name, function_name from duckdb_functions() "
        "where database_name = $1 and not internal and schema_name != $2",
        [CATALOG, MARTS],
    ).fetchall()
    for kind, schema, name in drops:
        con.execute(f"drop {kind} {CATALOG}.{_identifier(schema)}.{_identifier(name)}")


def _write_manifest(
    con: duckdb.DuckDBPyConnection, marts: Iterable[tuple[str, int, object]]
) -> None:
    published_at = dt.datetime.now(dt.UTC)
    con.execute(f"create schema {CATALOG}.publish")
    con.execute(
        f"create table {CATALOG}.{MANIFEST} (mart varchar, row_count bigint, "
        "money_sum decimal(38, 4), published_at timestamptz)"
    )
    for mart, rows, money in marts:
        con.execute(
            f"insert into {CATALOG}.{MANIFEST} values (?, ?, cast(? as decimal(38, 4)), ?)",
            [mart, rows, money, published_at],
        )


def write_catalog(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    views: dict[str, str],
    manifest: Iterable[tuple[str, int, object]],
    storage_version: str = PUBLISHED_STORAGE_VERSION,
) -> Path:
    """Write the catalog `target` through `con`, the build file's connection: `views`
    ({mart: SELECT}) in schema marts, the build's mart macros, the manifest ((mart, rows,
    money) per mart); written beside `target`, then renamed over it."""
    build = con.execute("select current_database()").fetchone()[0]
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    con.execute(
        f"attach {_literal(temporary)} as {CATALOG} "
        f"(storage_version {_literal(storage_version)})"
    )
    try:
        con.execute("begin")
        try:
            con.execute(f"copy from database {_identifier(build)} to {CATALOG} (schema)")
            _drop_all_but_the_mart_macros(con)
            for mart, select in views.items():
                con.execute(f"create view {CATALOG}.{MARTS}.{_identifier(mart)} as {select}")
            _write_manifest(con, manifest)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        con.execute(f"checkpoint {CATALOG}")
    finally:
        con.execute(f"detach {CATALOG}")
    try:
        os.chmod(temporary, 0o600)
        _fsync(temporary)
        os.replace(temporary, target)
        _fsync(target.parent)
    finally:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)  # checkpointed: nothing in it
    return target


def publish_warehouse(
    warehouse_path: str | os.PathLike,
    target: str | os.PathLike,
    *,
    wait_s: float = LOCK_WAIT_S,
    storage_version: str = PUBLISHED_STORAGE_VERSION,
) -> dict:
    """Publish a new version of the build file's marts whose catalog readers open at
    `target` (a symlink into the version; its folder is the publish folder, where `parquet`
    and `dashboard.html` are published too): `pipelines.publish.version.publish_version`.
    Returns {path, marts, bytes, version}."""
    from pipelines.publish.version import publish_version  # it builds on this module

    target = Path(target)
    info = publish_version(
        warehouse_path, target.parent, published=target, wait_s=wait_s,
        storage_version=storage_version,
    )
    return {
        "path": str(target),
        "marts": info["marts"],
        "bytes": info["database_bytes"],
        "version": info["version"],
    }
