"""Idempotency: the same day run twice gives identical marts; a backfill (an earlier as_of
on a warehouse built later) gives the marts of a clean build with that as_of. Every mart is
compared by its row count and an order-independent hash of all its rows."""

from __future__ import annotations

import shutil

from dbt_helpers import run_dbt
from reliability_support import AS_OF, BUILD, mart_hashes

from pipelines.extract import extract_all

BACKFILL_AS_OF = "2026-10-09"


def _dbt(warehouse, as_of):
    built = run_dbt(warehouse, *BUILD, as_of=as_of)
    assert built.returncode == 0, built.stdout[-3000:]


def test_the_same_day_twice_gives_identical_marts(built_warehouse, small_source_file, tmp_path):
    expected = mart_hashes(built_warehouse)
    assert sum(1 for rows, _ in expected.values() if rows) >= 20
    again = tmp_path / "w.duckdb"
    shutil.copy(built_warehouse, again)
    rerun = extract_all(f"sqlite:///{small_source_file}", str(again))
    assert rerun.ok
    assert (
        sum(r.rows_inserted + r.rows_updated + r.rows_deleted for r in rerun.results.values()) == 0
    )
    _dbt(again, AS_OF)
    assert mart_hashes(again) == expected


def test_a_backfill_equals_a_clean_build_of_that_date(built_warehouse, small_source_file, tmp_path):
    backfilled = tmp_path / "backfill" / "w.duckdb"
    backfilled.parent.mkdir()
    shutil.copy(built_warehouse, backfilled)
    _dbt(backfilled, BACKFILL_AS_OF)

    clean = tmp_path / "clean" / "w.duckdb"
    clean.parent.mkdir()
    assert extract_all(f"sqlite:///{small_source_file}", str(clean)).ok
    _dbt(clean, BACKFILL_AS_OF)

    got, expected = mart_hashes(backfilled), mart_hashes(clean)
    assert got == expected
    assert got != mart_hashes(built_warehouse)  # the as_of did change what the marts say
