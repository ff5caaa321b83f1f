"""The change log on the spark target (issue 19): a spark run prunes the rows the lake has
read (`changed.spark_plan`), so the log does not grow while runs are on Spark, and marks the
DuckDB build's reference stale in the same transaction, so the next DuckDB run is a full
refresh instead of an incremental build from a window whose changes are gone.

At the changed.py level, with a DuckDB file and lake manifests written as `pipelines.lake`
writes them (the Spark build itself reads no change log: it is not run here;
tests/integration/test_spark_change_log.py runs the extraction, the lake and real DuckDB
builds around it)."""

from __future__ import annotations

import types
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import query

from pipelines import lake
from pipelines.defs.dbt import changed
from pipelines.defs.dbt.assets import (
    DbtBuildConfig,
    build_plan,
    dbt_invocation_args,
    dbt_resource,
)
from pipelines.defs.resources import Warehouse

# raw.a -> stg_a -> fct_a; raw.b -> stg_b -> fct_b
MANIFEST = {
    "sources": {f"source.p.raw.{t}": {"source_name": "raw", "name": t} for t in ("a", "b")},
    "nodes": {
        f"model.p.{name}": {"resource_type": "model", "name": name}
        for name in ("stg_a", "stg_b", "fct_a", "fct_b")
    },
    "child_map": {
        "source.p.raw.a": ["model.p.stg_a"],
        "source.p.raw.b": ["model.p.stg_b"],
        "model.p.stg_a": ["model.p.fct_a"],
        "model.p.stg_b": ["model.p.fct_b"],
    },
    "parent_map": {
        "model.p.stg_a": ["source.p.raw.a"],
        "model.p.stg_b": ["source.p.raw.b"],
        "model.p.fct_a": ["model.p.stg_a"],
        "model.p.fct_b": ["model.p.stg_b"],
    },
}
ARGS = dict(fingerprint="f1", vars_="{}", as_of="2026-03-01", today_so_far=False,
            full_refresh=False, whole=True)


@pytest.fixture
def warehouse(tmp_path) -> Path:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema raw; create schema meta")
    con.execute("create table raw.accounts_website (id int, timezone varchar)")
    con.execute("insert into raw.accounts_website values (1, 'Africa/Kampala')")
    con.execute("create sequence meta._change_seq")
    con.execute("create table meta._changes (seq bigint, table_name varchar, op varchar)")
    con.close()
    return path


def _log(path: Path, *tables: str) -> None:
    con = duckdb.connect(str(path))
    for table in tables:
        con.execute("insert into meta._changes values (nextval('meta._change_seq'), ?, 'update')",
                    [table])
    con.close()


def _log_rows(path: Path) -> list[tuple[int, str]]:
    return query(path, "select seq, table_name from meta._changes order by seq")


def _write_lake(lake_dir: Path, path: Path, *tables: str) -> None:
    """What the lake writer commits for `tables`: a manifest at the log's position now."""
    (seq,) = query(path, "select max(seq) from meta._changes")[0]
    for table in tables:
        folder = lake.table_folder(lake_dir, table)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = lake.Manifest(table=table, scheme="whole", key=[], size=1, seq=seq,
                                 columns={"id": "BIGINT"})
        (folder / lake.MANIFEST).write_text(manifest.dump())


def _duckdb_build(path: Path, plan: changed.Plan) -> None:
    """A DuckDB build that succeeded whole, as the dbt asset records it (the slices
    models' own on-run-end prune then empties the log of what they read)."""
    con = duckdb.connect(str(path))
    changed.record_build(con, plan.state, plan.kind, 1)
    con.execute("delete from meta._changes where seq <= ?", [plan.state.changes_through])
    con.close()


def test_a_spark_run_prunes_what_the_lake_read_and_the_next_duckdb_run_is_a_full_refresh(
    warehouse, tmp_path
):
    lake_dir = tmp_path / "lake"
    _log(warehouse, "a", "b")
    _duckdb_build(warehouse, changed.plan(warehouse, MANIFEST, **ARGS))

    # Spark runs: each extraction logs changes, the lake reads them, the spark run prunes.
    for _ in range(3):
        _log(warehouse, "a", "a", "b")
        _write_lake(lake_dir, warehouse, "a", "b")
        assert len(_log_rows(warehouse)) == 3
        plan = changed.spark_plan(warehouse, lake_dir, run_id="spark-1")
        assert (plan.kind, plan.record, plan.pruned) == ("all", False, 3)
        assert "3 change-log row(s) the lake has read pruned" in plan.reason
        assert _log_rows(warehouse) == []  # the log does not grow across spark runs
    assert query(warehouse, "select kind, run_id from meta._dbt_builds "
                             "order by finished_at desc limit 1") == [("stale", "spark-1")]

    # Back on DuckDB with a change the log still holds: not an incremental SOME build of b
    # (the pruned changes of a would be missed), nor an incremental ALL: a full refresh.
    _log(warehouse, "b")
    subset = changed.plan(warehouse, MANIFEST, **{**ARGS, "whole": False})
    assert (subset.kind, subset.full_refresh, subset.record) == ("all", True, False)
    for override in ({}, {"as_of": "2026-03-05"}, {"only_changed": False}):
        plan = changed.plan(warehouse, MANIFEST, **{**ARGS, **override})
        assert (plan.kind, plan.reason) == ("all", changed.STALE_REASON)
        assert plan.full_refresh and plan.record and plan.previous.kind == "stale"
    args = dbt_invocation_args(DbtBuildConfig(), dbt_resource("dbt_project"),
                               Warehouse(path=str(warehouse)), plan)
    assert args[:2] == ["build", "--full-refresh"]

    # Once that build is recorded, the reference is DuckDB's again: change-driven.
    _duckdb_build(warehouse, plan)
    assert changed.plan(warehouse, MANIFEST, **ARGS).kind == "none"
    _log(warehouse, "b")
    after = changed.plan(warehouse, MANIFEST, **ARGS)
    assert (after.kind, after.changed_tables, after.full_refresh) == ("some", ["b"], False)
    assert not dbt_invocation_args(DbtBuildConfig(), dbt_resource("dbt_project"),
                                   Warehouse(path=str(warehouse)), after).count("--full-refresh")


def test_only_rows_the_lake_has_read_are_pruned(warehouse, tmp_path):
    lake_dir = tmp_path / "lake"
    _log(warehouse, "a", "b", "c")
    _write_lake(lake_dir, warehouse, "a", "b")  # c: not in the lake (no manifest)
    _log(warehouse, "a", "b")  # after the lake's write
    plan = changed.spark_plan(warehouse, lake_dir)
    assert plan.pruned == 2
    assert _log_rows(warehouse) == [(3, "c"), (4, "a"), (5, "b")]
    assert changed.lake_positions(lake_dir) == {"a": 3, "b": 3}


def test_a_spark_run_that_prunes_nothing_leaves_the_duckdb_reference_valid(warehouse, tmp_path):
    lake_dir = tmp_path / "lake"
    _log(warehouse, "a")
    _duckdb_build(warehouse, changed.plan(warehouse, MANIFEST, **ARGS))
    plan = changed.spark_plan(warehouse, lake_dir)  # no lake written yet
    assert (plan.kind, plan.pruned, plan.record) == ("all", 0, False)
    assert "holds nothing the lake has read" in plan.reason
    assert query(warehouse, "select kind from meta._dbt_builds") == [("all",)]
    _log(warehouse, "b")
    assert changed.plan(warehouse, MANIFEST, **ARGS).changed_tables == ["b"]


def test_the_prune_and_the_stale_mark_are_one_transaction(warehouse, tmp_path, monkeypatch):
    lake_dir = tmp_path / "lake"
    _log(warehouse, "a")
    _duckdb_build(warehouse, changed.plan(warehouse, MANIFEST, **ARGS))
    _log(warehouse, "a", "b")
    _write_lake(lake_dir, warehouse, "a", "b")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(changed, "record_build", fail)
    with pytest.raises(RuntimeError):
        changed.spark_plan(warehouse, lake_dir)
    assert len(_log_rows(warehouse)) == 2  # nothing pruned without the mark
    assert changed.plan(warehouse, MANIFEST, **ARGS).kind == "all"  # a and b changed


def test_a_warehouse_without_a_change_log_prunes_nothing(tmp_path):
    path = tmp_path / "old.duckdb"
    duckdb.connect(str(path)).close()
    plan = changed.spark_plan(path, tmp_path / "lake")
    assert (plan.kind, plan.pruned, plan.record) == ("all", 0, False)


def test_the_spark_dbt_asset_plans_with_the_lake_it_passes_dbt(warehouse, tmp_path):
    """build_plan on the spark target: `spark_plan` on the lake of `target_vars` (the one
    the profile reads), with the run's id on the stale mark."""
    lake_dir = tmp_path / "elsewhere"
    _log(warehouse, "a")
    _write_lake(lake_dir, warehouse, "a")
    dbt = dbt_resource("dbt_project", artifacts_dir=tmp_path / "dbt", target="spark",
                       lake=lake_dir)
    context = types.SimpleNamespace(run=types.SimpleNamespace(run_id="run-42"))
    plan = build_plan(context, DbtBuildConfig(), dbt, Warehouse(path=str(warehouse)), None)
    assert (plan.kind, plan.pruned, plan.full_refresh) == ("all", 1, False)
    assert query(warehouse, "select kind, run_id from meta._dbt_builds") == [("stale", "run-42")]
