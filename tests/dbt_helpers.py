"""Hand-written raw layers for dbt tests: the `raw` schema of a DuckDB warehouse, as the
extractor lands it (SOURCE_SCHEMA.md types), filled with a few rows written in the test.

Only the columns a test cares about need to be given: every other NOT NULL column gets a
neutral default (0, '', false, the row's created_at), so a test row reads like the rule it
checks.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from models import metadata

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
DBT_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "dbt"
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def duckdb_type(column: sa.Column) -> str:
    """The DuckDB type the extractor lands a source column as (the raw contract)."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return "BOOLEAN"
    if isinstance(kind, sa.BigInteger):
        return "BIGINT"
    if isinstance(kind, sa.Integer):
        return "INTEGER"
    if isinstance(kind, sa.Numeric):
        return f"DECIMAL({kind.precision},{kind.scale})"
    if isinstance(kind, sa.DateTime):
        return "TIMESTAMPTZ"
    if isinstance(kind, sa.Date):
        return "DATE"
    return "VARCHAR"


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every source table, empty, in schema `raw`."""
    con.execute("create schema if not exists raw")
    for table in metadata.sorted_tables:
        columns = ", ".join(f'"{c.name}" {duckdb_type(c)}' for c in table.columns)
        con.execute(f'create or replace table raw."{table.name}" ({columns})')


def _default(column: sa.Column, row: Mapping[str, Any]) -> Any:
    if column.nullable:
        return None
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 0
    if isinstance(kind, sa.Numeric):
        return Decimal("0")
    if isinstance(kind, sa.DateTime):
        return row.get("created_at") or row.get("date_joined") or EPOCH
    if isinstance(kind, sa.Date):
        return EPOCH.date()
    if column.name == "timezone":
        return "Africa/Kampala"
    if column.name == "currency":
        return "UGX"
    return ""


def insert(
    con: duckdb.DuckDBPyConnection, table_name: str, rows: Iterable[Mapping[str, Any]]
) -> None:
    """Insert rows into raw.<table_name>, defaulting the columns a row leaves out."""
    table = metadata.tables[table_name]
    names = [c.name for c in table.columns]
    placeholders = ", ".join("?" for _ in names)
    quoted = ", ".join(f'"{n}"' for n in names)
    for row in rows:
        unknown = set(row) - set(names)
        if unknown:
            raise KeyError(f"{table_name} has no column(s) {sorted(unknown)}")
        values = [row[n] if n in row else _default(table.c[n], row) for n in names]
        con.execute(f'insert into raw."{table_name}" ({quoted}) values ({placeholders})', values)


def ts(text: str) -> dt.datetime:
    """A UTC timestamp from 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def run_dbt(warehouse: Path, *args: str, as_of: str | None = None) -> subprocess.CompletedProcess:
    """Run dbt against `warehouse` in a subprocess (dbt keeps global state in-process).

    Artifacts and logs go beside the warehouse, so concurrent runs never share target/.
    """
    env = {
        **os.environ,
        "MEALYTICS_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": str(warehouse.parent / "dbt_target"),
        "DBT_LOG_PATH": str(warehouse.parent / "dbt_logs"),
    }
    command = [
        str(DBT_BIN), *args,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
    ]
    if as_of is not None:
        command += ["--vars", f"{{as_of: '{as_of}'}}"]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)


def log_raw_change(con: duckdb.DuckDBPyConnection, table: str, ids: list[int], op: str = "update"):
    """Record in the change log (`meta._changes`), as the extraction would, that the rows
    `ids` of raw `table` are about to be updated or deleted (call it BEFORE the change: it
    keeps their before images). A test that edits raw by hand calls it, or the incremental
    models (issue 16) would not see the edit."""
    from pipelines.extract.changes import before_image, ensure_table

    ensure_table(con)
    columns = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    )
    listed = ", ".join(str(int(i)) for i in ids)
    con.execute(
        f"insert into meta._changes (seq, table_name, op, row_id, row_key, before, recorded_at)"
        f" select nextval('meta._change_seq'), '{table}', '{op}', t.id,"
        f" cast(json_array(t.id) as varchar), {before_image(columns, 't')}, now()"
        f" from raw.{table} as t where t.id in ({listed})"
    )


def query(warehouse: Path, sql: str, *params) -> list[tuple]:
    """The rows of `sql` on a DuckDB file, opened read-only for this query only."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def mart_hashes(warehouse: Path) -> dict[str, tuple[int, str]]:
    """{mart: (rows, order-independent hash of every row)} of the marts: the tables of schema
    marts in a build file, its views (over Parquet) in the published catalog."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        marts = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'marts' AND table_type IN ('BASE TABLE', 'VIEW') "
                "ORDER BY 1"
            ).fetchall()
        ]
        return {
            m: con.execute(
                f'SELECT count(*), coalesce(sum(hash(t)), 0)::VARCHAR FROM marts."{m}" t'
            ).fetchone()
            for m in marts
        }
    finally:
        con.close()
