"""Shared fixtures of the reliability suite: one small generated source per session.

150 customers × 15 days (about 1,400 rows) keeps each extraction around a second, so the
suite can afford a fresh warehouse per fault it injects.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from reliability_support import AS_OF, BUILD

import seeds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # extract_support, pgcluster

SIZE = {"customers": 150, "days": 15, "seed": 11, "start": "2026-10-01"}


@pytest.fixture(scope="session")
def small_source_file(tmp_path_factory) -> Path:
    """A generated SQLite source, never written after generation (copy it to change it)."""
    path = tmp_path_factory.mktemp("source") / "operational.db"
    seeds.generate(f"sqlite:///{path}", **SIZE)
    return path


@pytest.fixture
def source_copy(small_source_file, tmp_path) -> Path:
    """A private copy of the small source, for a test to damage."""
    path = tmp_path / "operational.db"
    shutil.copy(small_source_file, path)
    return path


@pytest.fixture(scope="session")
def built_warehouse(small_source_file, tmp_path_factory) -> Path:
    """raw extracted from the small source and every model built as of AS_OF (copy to use)."""
    from dbt_helpers import run_dbt

    from pipelines.extract import extract_all

    path = tmp_path_factory.mktemp("built") / "warehouse.duckdb"
    assert extract_all(f"sqlite:///{small_source_file}", str(path)).ok
    built = run_dbt(path, *BUILD, as_of=AS_OF)
    assert built.returncode == 0, built.stdout[-3000:]
    return path


@pytest.fixture(scope="module")
def two_builds(built_warehouse, tmp_path_factory) -> tuple[Path, Path]:
    """Two different complete builds (the second as if a later run changed the marts)."""
    import duckdb

    base = tmp_path_factory.mktemp("builds")
    first, second = base / "a" / "warehouse.duckdb", base / "b" / "warehouse.duckdb"
    for path in (first, second):
        path.parent.mkdir()
        shutil.copy(built_warehouse, path)
    con = duckdb.connect(str(second))
    con.execute("update marts.fct_daily_snapshot set gross_revenue = gross_revenue + 1")
    con.execute("delete from marts.dim_customers where user_id % 2 = 0")
    con.close()
    return first, second
