"""Security: the source is only read, secrets stay secret, PII stays out of the marts,
configured identifiers are validated, and the files we write are the owner's alone."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
from reliability_support import STAFF_MARTS

import seeds
from pipelines.defs.raw import build_raw_defs
from pipelines.defs.resources import default_resources
from pipelines.extract import Source, TableSelection, extract_all
from pipelines.extract.plan import UnsafeIdentifierError

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Pa55-w0rd.that-must-never-leak"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _every_varchar(warehouse: Path) -> list[tuple[str, str, set[str]]]:
    """(table, column, distinct values) of every VARCHAR column of every table."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cols = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' and table_schema not in ('information_schema', "
            "'pg_catalog') and table_name in (select table_name from information_schema.tables"
            " where table_type = 'BASE TABLE')"
        ).fetchall()
        return [
            (
                f"{schema}.{table}",
                column,
                {
                    r[0]
                    for r in con.execute(
                        f'select distinct "{column}" from "{schema}"."{table}" '
                        f'where "{column}" is not null'
                    ).fetchall()
                },
            )
            for schema, table, column in cols
        ]
    finally:
        con.close()


# --- the source is only read -----------------------------------------------------------


def _try_writes(url: str) -> list[str]:
    source = Source(url)
    refused = []
    try:
        for sql in (
            "DELETE FROM orders_order",
            "UPDATE accounts_user SET email = 'x'",
            "CREATE TABLE intruder (id integer)",
        ):
            with source.connected(), source.session() as session:
                with pytest.raises(Exception) as caught:  # noqa: PT011 - any refusal will do
                    session.execute(sql)
                refused.append(str(caught.value).splitlines()[0])
    finally:
        source.dispose()
    return refused


def test_sqlite_source_refuses_writes_through_the_extraction_connection(source_copy):
    url = f"sqlite:///{source_copy}"
    before = sqlite3.connect(source_copy).execute("select count(*) from orders_order").fetchone()
    refused = _try_writes(url)
    assert all("readonly" in m.lower() or "read-only" in m.lower() for m in refused), refused
    after = sqlite3.connect(source_copy).execute("select count(*) from orders_order").fetchone()
    assert before == after and before[0] > 0


def test_postgres_source_refuses_writes_through_the_extraction_connection(postgres_url):
    seeds.generate(postgres_url, customers=20, days=5, seed=2)
    refused = _try_writes(postgres_url)
    assert all("read-only" in m for m in refused), refused


# --- secrets ------------------------------------------------------------------------------


def test_a_source_password_reaches_no_log_metadata_or_warehouse(
    postgres_url, tmp_path, monkeypatch, caplog, capfd
):
    seeds.generate(postgres_url, customers=20, days=5, seed=2)
    # Loopback trust authentication ignores the password, but every layer is handed it.
    url = sa.make_url(postgres_url).set(password=SECRET).render_as_string(hide_password=False)
    assert SECRET in url
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setenv("MEALYTICS_SOURCE_URL", url)
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(warehouse))
    caplog.set_level(logging.DEBUG)
    resources = default_resources()
    defs = build_raw_defs(resources=resources)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks], resources=resources, instance=instance
    )
    assert result.success
    out, err = capfd.readouterr()
    assert SECRET not in out + err
    assert SECRET not in caplog.text
    events = instance.all_logs(result.run_id)
    assert len(events) > 50
    assert SECRET not in "\n".join(repr(e) for e in events)
    run = instance.get_run_by_id(result.run_id)
    assert SECRET not in repr(run.run_config) + repr(run.tags)
    columns = _every_varchar(warehouse)
    leaks = [(t, c) for t, c, values in columns if any(SECRET in v for v in values)]
    assert leaks == []
    assert len(columns) > 50  # the scan did look at every text column


# --- PII ----------------------------------------------------------------------------------


def test_no_email_phone_or_name_reaches_the_marts(built_warehouse, small_source_file):
    db = sqlite3.connect(small_source_file)
    pii: set[str] = set()
    for email, phone, first, last in db.execute(
        "select email, phone, first_name, last_name from accounts_user"
    ):
        pii |= {v for v in (email, phone, first, last, f"{first} {last}") if v}
    db.close()
    assert len(pii) > 300
    marts = [(t, c, v) for t, c, v in _every_varchar(built_warehouse) if t.startswith("marts.")]
    assert len(marts) > 20
    # A staff member's name is published in the staff marts' name column, by design (a
    # support agent named Moses may share a customer's first name): that column holds staff
    # names only, and test_published_health_privacy keeps staff names out of every other.
    staff = {f"marts.{mart}": column for mart, column in STAFF_MARTS.items()}
    found = {(t, c): sorted(v & pii)[:3] for t, c, v in marts if v & pii and staff.get(t) != c}
    assert found == {}
    # Nor any value that merely contains an email address or a phone number.
    emails_or_phones = {p for p in pii if "@" in p or p.startswith("+")}
    contained = [
        (t, c) for t, c, v in marts for value in v if any(p in value for p in emails_or_phones)
    ]
    assert contained == []


# --- identifiers from configuration -------------------------------------------------------


@pytest.mark.parametrize(
    "pattern", ["x; drop table y", "orders_order' or '1'='1", 'a"b', "raw.orders_order", ""]
)
def test_selection_patterns_carrying_sql_are_refused(pattern):
    with pytest.raises(UnsafeIdentifierError, match="refused"):
        TableSelection(include=(pattern,))
    with pytest.raises(UnsafeIdentifierError, match="refused"):
        TableSelection(exclude=(pattern,))


def test_a_source_table_named_with_sql_is_refused_and_the_rest_loads(source_copy, tmp_path, caplog):
    db = sqlite3.connect(source_copy)
    db.execute('create table "x; drop table orders_order" (id integer primary key, v text)')
    db.execute("insert into \"x; drop table orders_order\" values (1, 'a')")
    db.commit()
    db.close()
    url = f"sqlite:///{source_copy}"
    warehouse = tmp_path / "w.duckdb"
    report = extract_all(url, str(warehouse))
    assert report.ok and "orders_order" in report.results
    assert "x; drop table orders_order" not in report.results
    assert "'x; drop table orders_order' refused" in caplog.text
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from raw.orders_order").fetchone()[0] > 0
    con.close()
    # The code location still loads (a Dagster asset key could not carry such a name).
    defs = build_raw_defs(url, resources={"source": None, "warehouse": None})
    assert dg.AssetKey(["raw", "orders_order"]) in {k for a in defs.assets for k in a.keys}
    with pytest.raises(UnsafeIdentifierError):
        Source(url).plans(tables=["orders_order; drop table x"])


# --- file modes ---------------------------------------------------------------------------


def test_warehouse_files_are_owner_only(source_copy, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    old = os.umask(0o022)  # even under a permissive umask
    try:
        assert extract_all(f"sqlite:///{source_copy}", str(warehouse)).ok
    finally:
        os.umask(old)
    assert _mode(warehouse) == 0o600


CLI_CHILD = """
import sys, os
import dagster as dg
from pipelines.cli import main

code = main(["source", "generate", "--customers", "5", "--days", "2", "--url", sys.argv[1],
             "--quiet"])
assert code == 0, code

@dg.asset
def probe():
    return 1

instance = dg.DagsterInstance.get()  # DAGSTER_HOME, as `mealytics run` uses it
assert dg.materialize([probe], instance=instance).success
"""


def test_files_the_cli_creates_are_owner_only(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    source = tmp_path / "operational.db"
    child = subprocess.run(
        [sys.executable, "-c", CLI_CHILD, f"sqlite:///{source}"],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    assert _mode(source) == 0o600
    created = [p for p in home.rglob("*") if p.name != "dagster.yaml"]
    assert len(created) >= 3
    loose = {str(p.relative_to(home)): oct(_mode(p)) for p in created if _mode(p) & 0o077}
    assert loose == {}


def test_a_run_through_dagster_writes_owner_only_files(source_copy, tmp_path, monkeypatch):
    """`make dev`'s runs never go through the CLI (whose `main` sets the umask): loading the
    code location (`build_definitions`) and the run's `warehouse` resource set it too.

    The whole graph runs in process, as a `dagster dev` run worker does, under a permissive
    umask (022) both while the definitions load (dbt parses: target/) and again while the
    run executes (extraction, dbt build, publishing). Every file it creates is rw-------,
    every folder rwx------.
    """
    import shutil

    from reliability_support import AS_OF

    from pipelines import run
    from pipelines.definitions import build_definitions
    from pipelines.defs.dbt.project import DBT_PROJECT_DIR
    from pipelines.defs.resources import SourceDatabase, Warehouse
    from pipelines.defs.schedules import ALL_ASSETS_JOB

    for variable in ("MEALYTICS_PUBLISH_DIR", "MEALYTICS_PUBLISHED"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)  # anything written to the working directory is seen too
    dbt_dir = tmp_path / "dbt_project"
    shutil.copytree(  # a fresh clone: no target/, no logs/
        DBT_PROJECT_DIR,
        dbt_dir,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    warehouse = tmp_path / "data" / "warehouse.duckdb"  # data/ does not exist yet
    before = set(tmp_path.rglob("*"))
    old = os.umask(0o022)
    try:
        defs = build_definitions(
            resources={
                "source": SourceDatabase(url=f"sqlite:///{source_copy}"),
                "warehouse": Warehouse(path=str(warehouse)),
            },
            dbt_project_dir=dbt_dir,
        )
        os.umask(0o022)  # loosened again: the run's resource must tighten it itself
        result = defs.resolve_job_def(ALL_ASSETS_JOB).execute_in_process(
            run_config=run.run_config(as_of=AS_OF),
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
        umask_after = os.umask(0o022)
    finally:
        os.umask(old)
    assert result.success
    assert umask_after == 0o077

    created = sorted(set(tmp_path.rglob("*")) - before)
    names = {str(p.relative_to(tmp_path)) for p in created}
    # data/parquet, data/dashboard.html and data/published.duckdb are symlinks into the
    # current version (data/publish/versions/<id>/): its files are listed there.
    parquet = [
        n for n in names if n.startswith("data/publish/versions/") and n.endswith(".parquet")
    ]
    expected = {
        "data",
        "data/warehouse.duckdb",
        "data/warehouse.duckdb.lock",
        "data/dashboard.html",
        "data/published.duckdb",
        "data/parquet",
        "data/publish/current",
        "data/dbt/target",  # beside the warehouse, never in the code tree
        "data/dbt/target/manifest.json",  # dbt's parse, while the definitions load
        "data/dbt/target/dbt.log",
    }
    assert expected <= names, sorted(expected - names)
    # dagster-dbt's invocation folder of the run's `dbt build`
    assert any(
        n.startswith("data/dbt/runs/") and n.endswith("/run_results.json") for n in names
    ), sorted(names)
    assert not any(n.startswith("dbt_project/target") for n in names)
    assert len(parquet) >= 5, sorted(names)
    assert not any(n.startswith(("raw", "marts")) for n in names)  # no stray database file
    loose = {
        str(path.relative_to(tmp_path)): oct(_mode(path))
        for path in created
        if _mode(path) != (0o700 if path.is_dir() else 0o600)
    }
    assert loose == {}
