"""The published catalog opens in the readers analysts have, not only in DuckDB 2.0.

DuckDB 2.0 writes storage version 69 by default, which DuckDB 1.x cannot open (PyPI's
`duckdb-cli` is 1.5). The published catalog is written in `PUBLISHED_STORAGE_VERSION`
instead; these tests open it with that CLI (the README's own command, run as written),
with SQLAlchemy's `duckdb_engine` and with the Python package, and compare its marts
with the build file's (and check it holds nothing else: issue 16.3).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from pipelines.publish.warehouse import PUBLISHED_STORAGE_VERSION, publish_warehouse

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _cli() -> Path | None:
    """The duckdb CLI of this environment (the dev extra's `duckdb-cli`), else on PATH."""
    beside = Path(sys.executable).with_name("duckdb")
    found = beside if beside.exists() else shutil.which("duckdb")
    return Path(found) if found else None


def _cli_version(cli: Path) -> str:
    return subprocess.run(
        [str(cli), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[0]


@pytest.fixture(scope="module")
def published(built_warehouse, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("published")
    build = base / "warehouse.duckdb"
    shutil.copy(built_warehouse, build)
    target = base / "pub" / "published.duckdb"
    info = publish_warehouse(build, target)
    assert info["path"] == str(target) and info["marts"] > 20
    return target


def _objects(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(kind, schema, name) of every table, view, sequence and macro of the file."""
    return con.execute(
        "select 'table', schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() "
        "union all select 'view', schema_name, view_name from duckdb_views() "
        "where database_name = current_database() and not internal "
        "union all select 'sequence', schema_name, sequence_name from duckdb_sequences() "
        "where database_name = current_database() "
        "union all select function_type, schema_name, function_name from duckdb_functions() "
        "where database_name = current_database() and not internal order by all"
    ).fetchall()


def _marts(path: Path) -> dict:
    """The marts of a file as readers see them: each one's rows and hash of every row, their
    columns' names and types in order, and the table macros with their parameters."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        marts = [
            name
            for kind, schema, name in _objects(con)
            if schema == "marts" and kind in ("table", "view")
        ]
        return {
            "rows": {
                m: con.execute(f'select count(*), sum(hash(x)) from marts."{m}" x').fetchone()
                for m in marts
            },
            "columns": con.execute(
                "select table_name, column_index, column_name, data_type from duckdb_columns() "
                "where database_name = current_database() and schema_name = 'marts' "
                "order by all"
            ).fetchall(),
            "macros": con.execute(
                "select function_name, parameters from duckdb_functions() "
                "where database_name = current_database() and schema_name = 'marts' "
                "and function_type = 'table_macro' order by all"
            ).fetchall(),
        }
    finally:
        con.close()


def test_published_catalog_is_the_marts_only_in_an_older_format(built_warehouse, published):
    """Issue 16.3: the published file holds a view per mart (over its Parquet), the marts'
    table macros and the manifest, nothing else; the views give the marts' rows and column
    types exactly (DECIMAL stays DECIMAL, dates stay DATE)."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        (tags,) = con.execute(
            "select tags from duckdb_databases() where database_name = current_database()"
        ).fetchone()
        # The README's Python example, table macro included.
        loyalty = con.execute(
            "select count(*) from marts.loyalty_calculate(date '2026-10-01', date '2026-10-15')"
        ).fetchone()[0]
        objects = _objects(con)
    finally:
        con.close()
    assert tags["storage_version"] == PUBLISHED_STORAGE_VERSION + "+"
    assert loyalty > 0
    build = _marts(built_warehouse)
    assert _marts(published) == build
    assert len(build["rows"]) > 20 and len(build["macros"]) >= 5
    assert any(kind.startswith("DECIMAL") for *_, kind in build["columns"])
    assert sorted(objects) == sorted(
        [("view", "marts", m) for m in build["rows"]]
        + [("table_macro", "marts", m) for m, _ in build["macros"]]
        + [("table", "publish", "manifest")]
    )
    assert oct(published.stat().st_mode & 0o777) == "0o600"


def test_sqlalchemy_duckdb_engine_reads_it(published):
    engine = sa.create_engine(f"duckdb:///{published}", connect_args={"read_only": True})
    try:
        with engine.connect() as conn:
            # The marts are views over Parquet (issue 16.3): SQLAlchemy lists them as views.
            assert "fct_daily_snapshot" in sa.inspect(conn).get_view_names(schema="marts")
            assert conn.execute(sa.text("select count(*) from marts.dim_customers")).scalar() > 0
    finally:
        engine.dispose()


def _readme_cli_example() -> list[str]:
    """The README's `.venv/bin/duckdb -readonly data/published.duckdb "…"` command, as
    arguments (the program as `duckdb`)."""
    text = README.read_text()
    match = re.search(
        r"```sh\n(?:\.venv/bin/)?(duckdb -readonly data/published\.duckdb[^`]*?)\n```", text
    )
    assert match, "the README's duckdb CLI example on data/published.duckdb is gone"
    return shlex.split(match.group(1).replace("\\\n", " "))


def test_pypi_duckdb_cli_runs_the_readme_example(published, built_warehouse):
    cli = _cli()
    if cli is None:
        pytest.skip("no duckdb CLI (pip install duckdb-cli, in the dev extra)")
    args = _readme_cli_example()
    assert args[:3] == ["duckdb", "-readonly", "data/published.duckdb"]
    run = subprocess.run(
        [str(cli), "-readonly", "-csv", str(published), *args[3:]],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"duckdb CLI {_cli_version(cli)}: {run.stderr}"
    con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        expected = con.execute(args[3]).fetchall()
        loyalty = con.execute(
            "select count(*) from marts.loyalty_calculate(date '2026-10-01', date '2026-10-15')"
        ).fetchone()[0]
    finally:
        con.close()
    rows = run.stdout.strip().splitlines()
    assert len(rows) == 1 + len(expected) and len(expected) > 0
    assert rows[1].split(",")[0] == str(expected[0][0])

    # The table macros too (they name no database, so the copy's name does not matter).
    macro = subprocess.run(
        [
            str(cli),
            "-readonly",
            "-csv",
            "-noheader",
            str(published),
            "select count(*) from marts.loyalty_calculate(date '2026-10-01', date '2026-10-15')",
        ],
        capture_output=True,
        text=True,
    )
    assert macro.returncode == 0, macro.stderr
    assert macro.stdout.strip() == str(loyalty)
