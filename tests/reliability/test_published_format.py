"""The published copy opens in the readers analysts have, not only in DuckDB 2.0.

DuckDB 2.0 writes storage version 69 by default, which DuckDB 1.x cannot open (PyPI's
`duckdb-cli` is 1.5). The published copy is written in `PUBLISHED_STORAGE_VERSION`
instead; these tests open it with that CLI (the README's own command, run as written),
with SQLAlchemy's `duckdb_engine` and with the Python package, and compare its content
with the build file's.
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


def _snapshot(path: Path) -> dict:
    """Every object of the file (but the manifest) with each table's row count and hash."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        db = con.execute("select current_database()").fetchone()[0]
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = ? and schema_name != 'publish' order by all",
            [db],
        ).fetchall()
        out = {
            (s, t): con.execute(f'select count(*), bit_xor(hash(x)) from "{s}"."{t}" x').fetchone()
            for s, t in tables
        }
        out["columns"] = con.execute(
            "select schema_name, table_name, column_name, data_type, is_nullable "
            "from duckdb_columns() where database_name = ? and schema_name != 'publish' "
            "order by all",
            [db],
        ).fetchall()
        out["views"] = con.execute(
            "select schema_name, view_name from duckdb_views() "
            "where database_name = ? and not internal order by all",
            [db],
        ).fetchall()
        out["macros"] = con.execute(
            "select schema_name, function_name, parameters from duckdb_functions() "
            "where database_name = ? and not internal order by all",
            [db],
        ).fetchall()
        return out
    finally:
        con.close()


def test_published_copy_is_the_build_in_an_older_format(built_warehouse, published):
    con = duckdb.connect(str(published), read_only=True)
    try:
        (tags,) = con.execute(
            "select tags from duckdb_databases() where database_name = current_database()"
        ).fetchone()
        # The README's Python example, table macro included.
        loyalty = con.execute(
            "select count(*) from marts.loyalty_calculate(date '2026-10-01', date '2026-10-15')"
        ).fetchone()[0]
    finally:
        con.close()
    assert tags["storage_version"] == PUBLISHED_STORAGE_VERSION + "+"
    assert loyalty > 0
    assert _snapshot(published) == _snapshot(built_warehouse)
    assert oct(published.stat().st_mode & 0o777) == "0o600"


def test_sqlalchemy_duckdb_engine_reads_it(published):
    engine = sa.create_engine(f"duckdb:///{published}", connect_args={"read_only": True})
    try:
        with engine.connect() as conn:
            assert "fct_daily_snapshot" in sa.inspect(conn).get_table_names(schema="marts")
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
