"""The lake in Dagster on the spark target: the extraction step writes it after the tables it
loaded and checks it (`lake_matches_raw`); on the duckdb target neither the write nor the
check exists. The asset graph is the same on both."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest
from extract_support import TABLES, HandSource

from pipelines import lake
from pipelines.defs.raw import asset_key, build_raw_defs, raw_run_config
from pipelines.defs.raw.lake import LAKE_MATCHES_RAW
from pipelines.defs.resources import SourceDatabase, Warehouse


@pytest.fixture
def source(tmp_path) -> HandSource:
    src = HandSource(f"sqlite:///{tmp_path / 'source.db'}")
    src.populate()
    return src


def _defs(url: str, warehouse: str, lake_dir: str | None) -> dg.Definitions:
    return build_raw_defs(
        resources={
            "source": SourceDatabase(url=url),
            "warehouse": Warehouse(path=warehouse, lake=lake_dir),
        }
    )


def _lake_checks(result) -> dict[str, tuple[bool, dict]]:
    return {
        e.asset_key.path[-1]: (e.passed, e.metadata)
        for e in result.get_asset_check_evaluations()
        if e.check_name == LAKE_MATCHES_RAW
    }


def test_spark_target_writes_and_checks_the_lake_in_the_extraction_step(source, tmp_path):
    warehouse, lake_dir = str(tmp_path / "w.duckdb"), tmp_path / "lake"
    defs = _defs(source.url, warehouse, str(lake_dir))
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process()
    assert result.success
    checks = _lake_checks(result)
    assert set(checks) == set(TABLES)
    assert all(passed for passed, _ in checks.values())
    assert checks["orders_order"][1]["write"].value == "full"
    assert checks["orders_order"][1]["raw_rows"].value == 120
    con = duckdb.connect(warehouse, read_only=True)
    for table in TABLES:
        files = ", ".join(f"'{f}'" for f in lake.data_files(lake_dir, table))
        (n,) = con.execute(f"select count(*) from read_parquet([{files}])").fetchone()
        assert n == con.execute(f"select count(*) from raw.{table}").fetchone()[0]
    con.close()

    source.change()
    result = job.execute_in_process()
    checks = _lake_checks(result)
    assert all(passed for passed, _ in checks.values())
    assert checks["orders_order"][1]["write"].value == "incremental"
    assert checks["menu_meal"][1]["write"].value == "unchanged"

    # --full-refresh rewrites the lake whole too.
    result = job.execute_in_process(run_config=raw_run_config(full_refresh=True))
    checks = _lake_checks(result)
    assert {md["write"].value for _, md in checks.values()} == {"full"}


def test_duckdb_target_has_the_same_assets_and_no_lake(source, tmp_path):
    spark = _defs(source.url, str(tmp_path / "a.duckdb"), str(tmp_path / "lake"))
    duck = _defs(source.url, str(tmp_path / "b.duckdb"), None)
    spark_keys, duck_keys = (
        set(d.resolve_asset_graph().get_all_asset_keys()) for d in (spark, duck)
    )
    assert spark_keys == duck_keys and asset_key("orders_order") in duck_keys
    result = duck.resolve_implicit_global_asset_job_def().execute_in_process()
    assert result.success and not _lake_checks(result)
    assert not (tmp_path / "lake").exists()


def test_a_lake_left_behind_by_a_pruned_change_log_is_repaired_in_the_step(source, tmp_path):
    """An update the change log no longer holds (pruned while the lake was not written):
    the row counts agree, the content hash does not; the step writes that table whole."""
    import sqlalchemy as sa

    warehouse, lake_dir = str(tmp_path / "w.duckdb"), tmp_path / "lake"
    job = _defs(source.url, warehouse, str(lake_dir)).resolve_implicit_global_asset_job_def()
    assert job.execute_in_process().success
    with sa.create_engine(source.url).begin() as conn:
        conn.execute(
            sa.text("UPDATE menu_meal SET name = 'renamed', updated_at = :u WHERE id = 1"),
            {"u": source.tick().isoformat(sep=" ")},
        )
    duck = _defs(source.url, warehouse, None).resolve_implicit_global_asset_job_def()
    assert duck.execute_in_process().success  # the duckdb target: the lake not written
    con = duckdb.connect(warehouse)
    con.execute("delete from meta._changes")  # as dbt's prune does on the duckdb target
    con.close()
    checks = _lake_checks(job.execute_in_process())
    assert checks["menu_meal"][0] is True
    assert checks["menu_meal"][1]["write"].value == "repaired"
    assert checks["orders_order"][1]["write"].value == "unchanged"
