"""The whole code location: definitions, schedule, and two runs through Dagster.

One small generated source (200 customers, 20 days from 2026-01-01) and a copy of the dbt
project without `target/` (a fresh clone) are shared by the module. The marts' figures are
checked against an independent computation on the SOURCE database, in Python.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import sqlite3
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from dbt_helpers import mart_hashes
from rich.console import Console

import seeds
from models import metadata
from pipelines import run
from pipelines.definitions import build_definitions
from pipelines.defs.dbt import DBT_ASSETS_NAME
from pipelines.defs.dbt.project import DBT_PROJECT_DIR
from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.defs.schedules import ALL_ASSETS_JOB

START = dt.date(2026, 1, 1)
DAYS = 20
FIRST_AS_OF = dt.date(2026, 1, 21)  # the generated days end 2026-01-20 (UTC)
ADVANCE_DAYS = 3
SECOND_AS_OF = dt.date(2026, 1, 24)
CENT = Decimal("0.01")


class Pipeline:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.source_path = root / "source.db"
        self.url = f"sqlite:///{self.source_path}"
        self.warehouse = root / "warehouse.duckdb"
        self.dbt_dir = root / "dbt_project"
        shutil.copytree(
            DBT_PROJECT_DIR,
            self.dbt_dir,
            ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
        )
        self.had_manifest = (self.dbt_dir / "target" / "manifest.json").exists()
        seeds.generate(self.url, customers=200, days=DAYS, seed=11, start=START, progress=False)
        self.defs = self.build()

    def build(self) -> dg.Definitions:
        return build_definitions(
            resources={
                "source": SourceDatabase(url=self.url),
                "warehouse": Warehouse(path=str(self.warehouse)),
            },
            dbt_project_dir=self.dbt_dir,
            timezone="Africa/Kampala",
        )

    def execute(self, as_of: dt.date) -> run.RunReport:
        return run.execute(
            as_of=as_of, defs=self.defs, instance=dg.DagsterInstance.ephemeral(), progress=False
        )

    def query(self, sql: str, *params) -> list[tuple]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Pipeline:
    return Pipeline(tmp_path_factory.mktemp("orchestration"))


# --- the independent computation, on the source -------------------------------------------


def _source_orders(path: Path) -> list[dict]:
    """Orders with their business date (created_at in the website's zone) and exact total."""
    db = sqlite3.connect(path)
    try:
        zones = dict(db.execute("select id, timezone from accounts_website"))
        rows = db.execute(
            "select website_id, user_id, status, total, created_at from orders_order"
        ).fetchall()
    finally:
        db.close()
    orders = []
    for website_id, user_id, status, total, created_at in rows:
        utc = dt.datetime.fromisoformat(created_at).replace(tzinfo=dt.UTC)
        orders.append(
            {
                "website_id": website_id,
                "user_id": user_id,
                "status": status,
                "total": Decimal(str(total)).quantize(CENT),
                "business_date": utc.astimezone(ZoneInfo(zones[website_id])).date(),
            }
        )
    return orders


def source_daily(path: Path, day: dt.date) -> dict[int, tuple[int, Decimal]]:
    """website → (counted orders, Σ total) placed on business date `day` (METRICS.md)."""
    out: dict[int, list] = defaultdict(lambda: [0, Decimal("0.00")])
    for order in _source_orders(path):
        if order["business_date"] == day and order["status"] != "cancelled":
            out[order["website_id"]][0] += 1
            out[order["website_id"]][1] += order["total"]
    return {website: (n, total) for website, (n, total) in out.items()}


def source_total_spent(path: Path, as_of: dt.date) -> dict[int, Decimal]:
    """user → Σ total of delivered orders placed up to `as_of` (METRICS.md, Customers)."""
    spent: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for order in _source_orders(path):
        if order["status"] == "delivered" and order["business_date"] <= as_of:
            spent[order["user_id"]] += order["total"]
    return dict(spent)


def source_counts(path: Path) -> dict[str, int]:
    """Rows per table of the source contract (the seeder's own state table is not one)."""
    db = sqlite3.connect(path)
    try:
        tables = sorted(metadata.tables)
        return {t: db.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}
    finally:
        db.close()


def assert_marts_match_source(pipeline: Pipeline, day: dt.date, as_of: dt.date) -> None:
    expected = source_daily(pipeline.source_path, day)
    assert expected, f"the source has no orders on {day}: pick another date"
    actual = {
        website: (orders, revenue)
        for website, orders, revenue in pipeline.query(
            "select website_id, total_orders, gross_revenue from marts.fct_daily_snapshot "
            "where business_date = ? and total_orders > 0",
            day,
        )
    }
    assert actual == expected

    spent = source_total_spent(pipeline.source_path, as_of)
    top_user = max(spent, key=lambda user: (spent[user], user))
    rows = pipeline.query(
        "select user_id, total_spent from marts.dim_customers where total_spent > 0"
    )
    assert dict(rows) == spent
    assert dict(rows)[top_user] == spent[top_user]


# --- definitions ----------------------------------------------------------------------------


def test_definitions_load_from_a_fresh_clone(pipeline):
    assert not pipeline.had_manifest
    # dbt's parse goes beside the warehouse, never into the (copied) code tree
    assert (pipeline.root / "dbt" / "target" / "manifest.json").exists()
    assert not (pipeline.dbt_dir / "target").exists()
    dg.Definitions.validate_loadable(pipeline.defs)
    repo = pipeline.defs.get_repository_def()
    assert repo.get_job(ALL_ASSETS_JOB)
    assert {s.name for s in repo.sensor_defs} >= {"report_run_failures", "marts_freshness"}


def test_graph_reads_source_raw_staging_intermediate_marts(pipeline):
    graph = pipeline.defs.resolve_asset_graph()
    raw = {k for k in graph.materializable_asset_keys if k.path[0] == "raw"}
    assert {k.path[1] for k in raw} == set(source_counts(pipeline.source_path))
    # No dbt source is left without its raw asset: nothing in the graph is external.
    assert not graph.external_asset_keys
    dbt_def = next(a for a in graph.assets_defs if a.node_def.name == DBT_ASSETS_NAME)
    sources = {dep.asset_key for spec in dbt_def.specs for dep in spec.deps} - set(dbt_def.keys)
    assert sources and sources <= raw
    groups = {dbt_def.group_names_by_key[k] for k in dbt_def.keys}
    assert groups == {"staging", "intermediate", "marts"}
    stg_orders = dg.AssetKey(["staging", "stg_orders"])
    assert dg.AssetKey(["raw", "orders_order"]) in graph.get(stg_orders).parent_keys
    daily = dg.AssetKey(["marts", "fct_daily_snapshot"])
    assert graph.get(daily).group_name == "marts"
    checks = {k.name for k in graph.asset_check_keys if k.asset_key == daily}
    assert any(name.startswith("freshness") for name in checks)  # the 26-hour freshness check
    assert any(name.startswith("unique_") for name in checks)  # a dbt test as a check
    raw_checks = {k.name for k in graph.asset_check_keys if k.asset_key.path[0] == "raw"}
    assert {"row_count_matches_source", "money_sums_match_source"} <= raw_checks
    assert {"order_total_formula", "foreign_keys_resolve"} <= raw_checks  # raw quality rules


def test_schedule_runs_the_whole_graph_at_two_in_the_morning(pipeline, monkeypatch):
    schedule = pipeline.defs.get_repository_def().get_schedule_def("daily_refresh")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "Africa/Kampala")
    # The tick of 2026-03-10 02:00 in Kampala (23:00 UTC the day before).
    at = dt.datetime(2026, 3, 9, 23, 0, tzinfo=dt.UTC).astimezone(ZoneInfo("Africa/Kampala"))
    assert (at.date(), at.hour) == (dt.date(2026, 3, 10), 2)
    with dg.build_schedule_context(scheduled_execution_time=at) as context:
        data = schedule.evaluate_tick(context)
    assert data.skip_message is None
    [request] = data.run_requests
    assert schedule.job_name == ALL_ASSETS_JOB
    assert request.job_name in (None, ALL_ASSETS_JOB)  # None: the schedule's own job
    assert request.tags == {"dagster/schedule_name": "daily_refresh"}
    assert request.run_key is None and request.partition_key is None
    assert request.asset_selection is None  # the job's selection: every asset
    assert request.run_config == {}
    job = pipeline.defs.resolve_job_def(ALL_ASSETS_JOB)
    assert job.tags == {"mealytics/writes": "warehouse"}
    # That empty run config resolves to an incremental run with no `as_of`: dbt's own
    # default, yesterday in each website's zone (2026-03-09 for a tick at 02:00 local).
    resolved = dg.validate_run_config(job, request.run_config)
    assert resolved["ops"]["raw_tables"]["config"]["full_refresh"] is False
    dbt_config = resolved["ops"]["dbt_models"]["config"]
    assert (dbt_config["full_refresh"], dbt_config["as_of"]) == (False, None)
    from pipelines.dbt_args import dbt_build_args

    assert dbt_build_args(full_refresh=False, as_of=dbt_config["as_of"]) == ["build"]
    graph = pipeline.defs.resolve_asset_graph()
    assert set(job.asset_layer.selected_asset_keys) == set(graph.materializable_asset_keys)

    from pipelines.settings import Settings

    # The schedule's zone comes from the settings the definitions are built from.
    monkeypatch.setenv("MEALYTICS_SCHEDULE_TIMEZONE", "Africa/Lagos")
    lagos = build_definitions(
        config=Settings.from_env(),
        resources={name: pipeline.defs.resources[name] for name in ("source", "warehouse")},
        dbt_project_dir=pipeline.dbt_dir,
    )
    assert lagos.resolve_schedule_def("daily_refresh").execution_timezone == "Africa/Lagos"


def test_a_failed_run_exits_non_zero_and_names_the_step(pipeline, tmp_path):
    defs = build_definitions(
        resources={
            "source": SourceDatabase(url=f"sqlite:///{tmp_path / 'missing' / 'source.db'}"),
            "warehouse": Warehouse(path=str(tmp_path / "warehouse.duckdb")),
        },
        dbt_project_dir=pipeline.dbt_dir,
    )
    report = run.execute(defs=defs, instance=dg.DagsterInstance.ephemeral(), progress=False)
    assert report.exit_code == 1
    assert [step for step, _ in report.failures] == ["raw_tables"]
    assert not report.materialized
    console = Console(file=io.StringIO(), width=120)
    run.print_summary(report, console)
    text = console.file.getvalue()
    assert "Failed step:\n  - raw_tables: Failure: " in text and "failed" in text


# --- runs -----------------------------------------------------------------------------------


def test_two_runs_through_dagster_follow_the_source(pipeline):
    report = pipeline.execute(FIRST_AS_OF)
    assert report.exit_code == 0, report.failures
    counts = source_counts(pipeline.source_path)
    assert {t: rows for t, (rows, *_) in report.raw.items()} == counts
    assert report.marts.get("fct_daily_snapshot") and report.marts.get("dim_customers") == 200
    assert report.checks and not report.checks_failed
    assert_marts_match_source(pipeline, dt.date(2026, 1, 15), FIRST_AS_OF)
    assert pipeline.query(
        "select count(*) from marts.fct_daily_snapshot where business_date > ?", FIRST_AS_OF
    ) == [(0,)]

    seeds.advance(pipeline.url, days=ADVANCE_DAYS, progress=False)
    report = pipeline.execute(SECOND_AS_OF)
    assert report.exit_code == 0, report.failures
    assert {t: rows for t, (rows, *_) in report.raw.items()} == source_counts(pipeline.source_path)
    assert report.raw["orders_order"][1] > 0  # new orders were inserted, not reloaded whole
    assert report.raw["orders_order"][1] < report.raw["orders_order"][0]
    assert not report.checks_failed
    assert_marts_match_source(pipeline, dt.date(2026, 1, 22), SECOND_AS_OF)

    console = Console(file=io.StringIO(), width=120)
    run.print_summary(report, console)
    text = console.file.getvalue()
    assert "marts.fct_daily_snapshot" in text and "succeeded" in text


def _resolved_on(path: Path, website: int, day: dt.date) -> int:
    """Tickets of `website` resolved on business date `day`, from the source."""
    db = sqlite3.connect(path)
    try:
        zone = ZoneInfo(db.execute(
            "select timezone from accounts_website where id = ?", (website,)).fetchone()[0])
        stamps = [r for (r,) in db.execute(
            "select resolved_at from support_ticket where website_id = ? and status = 'resolved' "
            "and resolved_at is not null", (website,))]
    finally:
        db.close()
    return sum(
        dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC).astimezone(zone).date() == day
        for s in stamps
    )


def test_a_run_rebuilds_only_what_reads_a_changed_table(pipeline):
    """Issue 16.2: after the runs above, a run with nothing changed in the source builds no
    dbt node (every mart identical, still published); one resolved ticket rebuilds the
    support models only, and the support mart then agrees with the source."""
    if not pipeline.query(
        "select count(*) from information_schema.tables where table_name = '_dbt_builds'"
    )[0][0]:
        pipeline.execute(SECOND_AS_OF)  # run alone: the build the next ones compare with
    before = mart_hashes(pipeline.warehouse)
    report = pipeline.execute(SECOND_AS_OF)
    assert report.exit_code == 0, report.failures
    dbt_assets = {n for n in report.materialized if not n.startswith(("raw/", "publish/"))}
    assert len(dbt_assets) > 90 and set(report.unchanged) == dbt_assets
    assert report.published
    assert mart_hashes(pipeline.warehouse) == before
    assert pipeline.query(
        "select kind, nodes_built from meta._dbt_builds order by finished_at desc limit 1"
    ) == [("none", 0)]

    db = sqlite3.connect(pipeline.source_path)
    try:
        ticket, website, created = db.execute(
            "select id, website_id, created_at from support_ticket where status <> 'resolved' "
            "order by id limit 1").fetchone()
        newest = db.execute("select max(updated_at) from support_ticket").fetchone()[0]
        resolved = dt.datetime.fromisoformat(created) + dt.timedelta(hours=2)
        stamp = dt.datetime.fromisoformat(newest) + dt.timedelta(seconds=1)
        with db:
            db.execute(
                "update support_ticket set status = 'resolved', resolved_at = ?, updated_at = ? "
                "where id = ?", (resolved.isoformat(sep=" "), stamp.isoformat(sep=" "), ticket))
    finally:
        db.close()
    report = pipeline.execute(SECOND_AS_OF)
    assert report.exit_code == 0, report.failures
    rebuilt = dbt_assets - set(report.unchanged)
    assert "marts/fct_support_tickets_daily" in rebuilt
    assert not rebuilt & {"marts/fct_daily_snapshot", "marts/dim_customers",
                          "intermediate/int_orders_enriched"}
    after = mart_hashes(pipeline.warehouse)
    differ = {t for t in after if after[t] != before[t]}
    assert "fct_support_tickets_daily" in differ
    assert {f"marts/{t}" for t in differ} <= rebuilt
    zone = ZoneInfo(pipeline.query(
        "select timezone from raw.accounts_website where id = ?", website)[0][0])
    day = resolved.replace(tzinfo=dt.UTC).astimezone(zone).date()
    assert pipeline.query(
        "select tickets_resolved from marts.fct_support_tickets_daily "
        "where website_id = ? and business_date = ?", website, day
    ) == [(_resolved_on(pipeline.source_path, website, day),)]
