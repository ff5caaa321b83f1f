"""The pipeline on a source at an older version of the contract (models.schema.ADDED).

A Django app migrates its database forward: a source created before the kitchen times,
the recipients' channel and engagement, the tickets' agent and the health profiles lacks
those columns and the `health_healthprofile` table. The pipeline must still load its
definitions and run on it: the missing columns arrive in staging as typed NULLs and the
missing table as an empty `stg_health_profiles`.

One tiny generated source, in two copies:
- `old`: the columns dropped (SQLite rebuilds the tables) and the table dropped;
- `migrated`: the same rows at the current version, the new columns NULL and no health
  profile yet (what the migration leaves on a database that holds history).
Both are run through Dagster (`pipelines.run.execute`), each into its own warehouse: both
runs succeed with every check passing, staging has the same columns and types in both,
and every mart holds the same rows (as multisets).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pytest

import seeds
from models.schema import ADDED, ADDED_TABLES, metadata
from pipelines import run
from pipelines.definitions import build_definitions
from pipelines.defs.dbt.project import DBT_PROJECT_DIR
from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.defs.schedules import ALL_ASSETS_JOB

START = dt.date(2026, 3, 1)
DAYS = 8
AS_OF = START + dt.timedelta(days=DAYS)

#: Staging model and columns a later version added → the source table and column.
STAGED = {
    ("stg_orders", "confirmed_at"): ("orders_order", "confirmed_at"),
    ("stg_orders", "prepared_at"): ("orders_order", "prepared_at"),
    ("stg_campaign_recipients", "channel"): ("campaigns_campaignrecipient", "channel"),
    ("stg_campaign_recipients", "opened_at"): ("campaigns_campaignrecipient", "opened_at"),
    ("stg_campaign_recipients", "clicked_at"): ("campaigns_campaignrecipient", "clicked_at"),
    ("stg_campaign_recipients", "updated_at"): ("campaigns_campaignrecipient", "updated_at"),
    ("stg_support_tickets", "assigned_agent"): ("support_ticket", "assigned_agent"),
}


def _to_older_version(path: Path) -> None:
    """Drop what later versions added: SQLite's DROP COLUMN rebuilds each table."""
    db = sqlite3.connect(path)
    try:
        for table in sorted(ADDED_TABLES):
            db.execute(f'DROP TABLE "{table}"')
        for name, columns in ADDED.items():
            if name in ADDED_TABLES:
                continue
            for index in metadata.tables[name].indexes:
                if any(c.name in columns for c in index.columns):
                    db.execute(f'DROP INDEX "{index.name}"')
            for column in columns:
                db.execute(f'ALTER TABLE "{name}" DROP COLUMN "{column}"')
        db.commit()
    finally:
        db.close()


def _to_migrated(path: Path) -> None:
    """The current version with nothing in what it added: new columns NULL, no profile."""
    db = sqlite3.connect(path)
    try:
        for table in sorted(ADDED_TABLES):
            db.execute(f'DELETE FROM "{table}"')
        for name, columns in ADDED.items():
            if name not in ADDED_TABLES:
                sets = ", ".join(f'"{c}" = NULL' for c in columns)
                db.execute(f'UPDATE "{name}" SET {sets}')
        db.commit()
    finally:
        db.close()


class Copy:
    def __init__(self, root: Path, generated: Path, name: str) -> None:
        self.source = root / f"{name}.db"
        shutil.copy2(generated, self.source)
        self.warehouse = root / f"{name}.duckdb"
        self.dbt_dir = root / f"dbt_{name}"
        shutil.copytree(
            DBT_PROJECT_DIR,
            self.dbt_dir,
            ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
        )

    def definitions(self) -> dg.Definitions:
        return build_definitions(
            resources={
                "source": SourceDatabase(url=f"sqlite:///{self.source}"),
                "warehouse": Warehouse(path=str(self.warehouse)),
            },
            dbt_project_dir=self.dbt_dir,
            timezone="Africa/Kampala",
        )

    def query(self, sql: str, *params) -> list[tuple]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Copy, run.RunReport, dg.Definitions]]:
    root = tmp_path_factory.mktemp("older_source")
    generated = root / "generated.db"
    seeds.generate(
        f"sqlite:///{generated}", customers=80, days=DAYS, seed=5, start=START, progress=False
    )
    out = {}
    for name, shape in (("old", _to_older_version), ("migrated", _to_migrated)):
        copy = Copy(root, generated, name)
        shape(copy.source)
        defs = copy.definitions()
        report = run.execute(
            as_of=AS_OF, defs=defs, instance=dg.DagsterInstance.ephemeral(), progress=False
        )
        out[name] = (copy, report, defs)
    return out


def test_the_old_source_really_is_older(runs):
    copy, _, _ = runs["old"]
    db = sqlite3.connect(copy.source)
    try:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
        assert "health_healthprofile" not in tables
        for (table, column) in STAGED.values():
            names = {r[1] for r in db.execute(f'pragma table_info("{table}")')}
            assert column not in names and "id" in names, (table, column)
        assert db.execute("select count(*) from orders_order").fetchone()[0] > 20
    finally:
        db.close()


def test_definitions_load_and_both_runs_succeed(runs):
    for name, (_, report, defs) in runs.items():
        assert defs.resolve_job_def(ALL_ASSETS_JOB) is not None
        assert report.success, (name, report.failures, report.run_error)
        assert report.failures == [] and report.run_error is None, name
        assert report.checks_failed == [], (name, report.checks_failed)
        assert report.exit_code == 0, name
    raw_old = set(runs["old"][1].raw)
    assert "health_healthprofile" not in raw_old
    assert set(runs["migrated"][1].raw) - raw_old == {"health_healthprofile"}


def test_missing_columns_are_typed_nulls_and_the_missing_table_is_empty(runs):
    old, _, _ = runs["old"]
    migrated, _, _ = runs["migrated"]
    for (model, column) in STAGED:
        total, filled = old.query(
            f"select count(*), count({column}) from staging.{model}"
        )[0]
        assert total > 0 and filled == 0, (model, column)
    assert old.query("select count(*) from staging.stg_health_profiles") == [(0,)]

    def shape(copy: Copy) -> list[tuple]:
        return copy.query(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' and table_name like 'stg\\_%' escape '\\' "
            "order by table_name, ordinal_position"
        )

    assert shape(old) == shape(migrated)
    types = {(t, c): d for t, c, d in shape(old)}
    assert types[("stg_orders", "confirmed_at")] == "TIMESTAMP WITH TIME ZONE"
    assert types[("stg_campaign_recipients", "channel")] == "VARCHAR"
    assert types[("stg_health_profiles", "daily_calorie_target")] == "INTEGER"


def test_every_mart_is_the_same_as_on_the_migrated_source(runs):
    old, old_report, _ = runs["old"]
    migrated, _, _ = runs["migrated"]
    marts = [t for (t,) in old.query(
        "select table_name from information_schema.tables where table_schema = 'marts' "
        "and table_type = 'BASE TABLE' order by 1"
    )]
    assert len(marts) >= 20 and "dim_customers" in marts
    assert set(marts) <= set(old_report.marts)
    for mart in marts:
        rows = {
            name: Counter(copy.query(f"select * from marts.{mart}"))
            for name, copy in (("old", old), ("migrated", migrated))
        }
        assert rows["old"] == rows["migrated"], mart
