"""The raw assets and reconciliation checks, materialized by Dagster."""

from __future__ import annotations

import sqlite3

import dagster as dg
import pytest
from extract_support import TABLES, HandSource, assert_equal

from pipelines.defs.raw import asset_key, build_raw_defs, raw_run_config
from pipelines.defs.resources import SourceDatabase, Warehouse


@pytest.fixture
def source(tmp_path) -> HandSource:
    src = HandSource(f"sqlite:///{tmp_path / 'source.db'}")
    src.populate()
    return src


def defs_for(url: str, warehouse: str) -> dg.Definitions:
    return build_raw_defs(
        resources={"source": SourceDatabase(url=url), "warehouse": Warehouse(path=warehouse)}
    )


def materializations(result) -> dict:
    return {
        e.asset_key.path[-1]: e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


def test_assets_checks_and_metadata(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    defs = defs_for(source.url, warehouse)
    assets_def = defs.resolve_asset_graph().assets_def_for_key(asset_key("orders_order"))
    assert sorted(k.path[-1] for k in assets_def.keys) == sorted(TABLES)
    spec = next(s for s in assets_def.specs if s.key == asset_key("orders_order"))
    assert spec.group_name == "raw"
    assert spec.kinds == {"duckdb", "sqlite"}
    columns = {c.name: c.type for c in spec.metadata["dagster/column_schema"].columns}
    assert (columns["total"], columns["created_at"]) == (
        "DECIMAL(12,2)",
        "TIMESTAMP WITH TIME ZONE",
    )

    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process()
    assert result.success
    md = materializations(result)["orders_order"]
    assert md["rows_inserted"].value == 120
    assert md["dagster/row_count"].value == 120
    assert md["mode"].value == "merge"
    assert md["source"].value == source.url
    checks = {
        (e.asset_key.path[-1], e.check_name): e.passed for e in result.get_asset_check_evaluations()
    }
    assert checks[("orders_order", "row_count_matches_source")] is True
    assert checks[("orders_order", "money_sums_match_source")] is True
    assert ("accounts_user", "money_sums_match_source") not in checks
    assert all(checks.values())

    source.change()
    result = job.execute_in_process(run_config=raw_run_config(full_refresh=True))
    md = materializations(result)["orders_order"]
    assert (md["rows_inserted"].value, md["rows_updated"].value, md["rows_deleted"].value) == (
        10,
        4,
        2,
    )
    assert md["full_refresh"].value is True
    assert_equal(source.url, warehouse)


def test_one_table_drifting_fails_alone(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    defs = defs_for(source.url, warehouse)
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process().success
    db = sqlite3.connect(source.url.removeprefix("sqlite:///"))
    db.executescript(
        """
        ALTER TABLE menu_meal RENAME TO m;
        CREATE TABLE menu_meal (id INTEGER PRIMARY KEY, website_id INTEGER, name TEXT,
            category TEXT, price TEXT, is_active BOOL, created_at DATETIME, updated_at DATETIME);
        INSERT INTO menu_meal SELECT * FROM m; DROP TABLE m;
        """
    )
    db.close()
    source.change()
    result = job.execute_in_process(raise_on_error=False)
    assert not result.success
    done = materializations(result)
    assert "menu_meal" not in done
    assert sorted(done) == sorted(set(TABLES) - {"menu_meal"})
    failure = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "menu_meal" in failure and "price" in failure and "DECIMAL(12,2)" in failure


def test_unreachable_source_fails_clearly(tmp_path):
    url = "sqlite:///" + str(tmp_path / "gone.db")
    warehouse = str(tmp_path / "w.duckdb")
    defs = defs_for(url, warehouse)  # falls back to the contract's tables
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(raise_on_error=False)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "is unavailable" in message and "gone.db" in message
    assert not (tmp_path / "w.duckdb").exists()


def test_reconcile_sees_a_raw_table_that_drifted_from_its_source(source, tmp_path):
    import duckdb

    from pipelines.defs.raw.checks import reconcile
    from pipelines.extract import Source, extract_all

    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse).ok
    src = Source(source.url)
    plan = next(p for p in src.plans() if p.name == "payments_payment")
    con = duckdb.connect(warehouse)
    (src_rows, raw_rows), sums = reconcile(src.engine, con, plan)
    assert src_rows == raw_rows == 60
    assert sums["amount"][0] == sums["amount"][1]
    amount = con.execute("SELECT amount FROM raw.payments_payment WHERE id = 7").fetchall()[0][0]
    con.execute("DELETE FROM raw.payments_payment WHERE id = 7")
    (src_rows, raw_rows), sums = reconcile(src.engine, con, plan)
    con.close()
    assert (src_rows, raw_rows) == (60, 59)
    assert sums["amount"][0] - sums["amount"][1] == amount


def test_unreachable_postgres_at_load_time_still_defines_every_contract_table():
    from models.schema import metadata
    from pipelines.defs.raw import build_raw_assets, discover

    url = "postgresql+psycopg://u:secret@127.0.0.1:1/shop"
    plans = discover(url)
    assert sorted(p.name for p in plans) == sorted(metadata.tables)
    (assets_def,) = build_raw_assets(url, plans=plans)
    spec = next(s for s in assets_def.specs if s.key == asset_key("payments_refund"))
    assert spec.kinds == {"duckdb", "postgres"}
    assert spec.metadata["mode"] == "append"


def test_source_url_from_the_environment_stays_hidden(source, tmp_path, monkeypatch):
    from pipelines.defs.resources import default_resources

    monkeypatch.setenv("MEALYTICS_SOURCE_URL", source.url)
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(tmp_path / "w.duckdb"))
    resources = default_resources()
    assert isinstance(resources["source"].url, dg.EnvVar)
    defs = build_raw_defs(resources=resources)
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process()
    assert result.success
    assert materializations(result)["orders_order"]["rows_inserted"].value == 120


@pytest.fixture
def reflections(monkeypatch) -> list:
    """Every reflection of a source's tables (SQLAlchemy's `MetaData.reflect`), recorded."""
    import sqlalchemy as sa

    calls: list = []
    reflect = sa.MetaData.reflect

    def spy(self, bind, *args, **kwargs):
        calls.append(sorted(kwargs.get("only") or []))
        return reflect(self, bind, *args, **kwargs)

    monkeypatch.setattr(sa.MetaData, "reflect", spy)
    return calls


def test_a_run_reflects_the_source_once(source, tmp_path, reflections):
    """Loading the definitions, then one run of every raw asset with its reconciliation
    and quality checks, as `mealytics run` does in one process: one reflection. A later
    run of the same definitions (a long-lived code server) reflects afresh, once."""
    defs = defs_for(source.url, str(tmp_path / "w.duckdb"))
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process()
    assert result.success
    checks = {(e.asset_key.path[-1], e.check_name) for e in result.get_asset_check_evaluations()}
    assert ("orders_order", "row_count_matches_source") in checks
    assert len(checks) > len(TABLES)  # reconciliation and quality checks ran
    assert reflections == [sorted(TABLES)]

    result = job.execute_in_process()
    assert result.success
    assert len(reflections) == 2


def test_checks_run_alone_reflect_only_the_tables_they_check(source, tmp_path, reflections):
    warehouse = str(tmp_path / "w.duckdb")
    defs = defs_for(source.url, warehouse)
    assert defs.resolve_implicit_global_asset_job_def().execute_in_process().success
    check = dg.AssetCheckKey(asset_key("payments_payment"), "row_count_matches_source")
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.checks(check),
        resources={
            "source": SourceDatabase(url=source.url),
            "warehouse": Warehouse(path=warehouse),
        },
    )
    assert result.success
    assert [e.check_name for e in result.get_asset_check_evaluations()] == [check.name]
    assert reflections[-1] == ["payments_payment"]
