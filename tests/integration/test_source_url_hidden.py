"""The source URL's password never reaches what Dagster shows: UI snapshots, run config, logs.

The code location is built as `dagster dev` builds it (`pipelines.definitions`, resources
from the environment or `.env`) with a PostgreSQL URL that carries a password. The server
is unreachable (port 1): the raw assets then come from the source contract, and a run fails
at once, which is enough to see every message the failure writes. A run against a live
server with a password is tests/reliability/test_security.py's.
"""

from __future__ import annotations

import os
import shutil

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import (
    RepositorySnap,
    ResourceConfigEnvVarSnap,
)
from dagster._serdes import serialize_value

from pipelines.definitions import build_definitions
from pipelines.defs.dbt.project import DBT_PROJECT_DIR
from pipelines.defs.raw import raw_run_config
from pipelines.defs.resources import SOURCE_URL_VAR, default_resources, source_url_of

SECRET = "pa55-Wd-7f3c91"
URL = f"postgresql+psycopg://mealytics:{SECRET}@127.0.0.1:1/shop"


@pytest.fixture(scope="module")
def dbt_dir(tmp_path_factory):
    # A copy, manifest included (mtimes kept: no parse unless the project changed).
    target = tmp_path_factory.mktemp("dbt") / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, target, ignore=shutil.ignore_patterns("logs", "dbt_packages"))
    return target


@pytest.fixture
def environment(tmp_path, monkeypatch):
    monkeypatch.setenv(SOURCE_URL_VAR, URL)
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(tmp_path / "w.duckdb"))
    return tmp_path


def test_the_ui_shows_the_variables_name_never_the_password(environment, dbt_dir):
    defs = build_definitions(dbt_project_dir=dbt_dir)
    source = defs.resources["source"]
    assert isinstance(source.url, dg.EnvVar) and source_url_of(source) == URL
    repo = defs.get_repository_def()
    # What the webserver serves: the repository snapshot (jobs and their run config schema
    # with defaults, i.e. the launchpad, assets, resources with their configured values).
    snapshot = serialize_value(RepositorySnap.from_def(repo))
    assert len(snapshot) > 100_000 and "raw_tables" in snapshot  # the whole location
    assert SECRET not in snapshot
    assert "127.0.0.1:1" not in snapshot  # nor any other part of the URL
    snap = RepositorySnap.from_def(repo)
    (resource,) = [r for r in snap.resources if r.name == "source"]
    assert resource.configured_values["url"] == ResourceConfigEnvVarSnap(name=SOURCE_URL_VAR)
    assert SOURCE_URL_VAR in (snap.utilized_env_vars or {})  # the UI's "Environment variables"
    assert SECRET not in repr(defs.resources)


def test_a_failed_run_logs_and_records_the_url_masked(environment, dbt_dir, capfd):
    defs = build_definitions(dbt_project_dir=dbt_dir)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    config = raw_run_config(retries=0)
    result = job.get_subset(
        asset_selection={dg.AssetKey(["raw", "orders_order"])}
    ).execute_in_process(run_config=config, instance=instance, raise_on_error=False)
    assert not result.success
    events = instance.all_logs(result.run_id)
    text = "\n".join(repr(e) for e in events)
    assert "is unavailable" in text and "mealytics:***@127.0.0.1:1/shop" in text
    assert SECRET not in text
    run = instance.get_run_by_id(result.run_id)
    assert SECRET not in repr(run.run_config) + repr(run.tags)
    out, err = capfd.readouterr()
    assert SECRET not in out + err


def test_a_url_from_dotenv_is_an_env_var_too(tmp_path, monkeypatch):
    monkeypatch.setenv(SOURCE_URL_VAR, "set, so that teardown unsets what .env sets")
    monkeypatch.delenv(SOURCE_URL_VAR)
    (tmp_path / ".env").write_text(f"{SOURCE_URL_VAR}={URL}\n")
    monkeypatch.chdir(tmp_path)
    source = default_resources()["source"]
    assert os.environ[SOURCE_URL_VAR] == URL
    assert isinstance(source.url, dg.EnvVar) and source.url == SOURCE_URL_VAR
    assert source.masked_url == "postgresql+psycopg://mealytics:***@127.0.0.1:1/shop"
