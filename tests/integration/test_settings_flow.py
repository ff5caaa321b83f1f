"""One settings flow: every way of starting a run hands dbt the same command line.

`mealytics run`, a run of the daily schedule, a run of the job launched from the UI's
launchpad (its default config is empty) and the UI's "Materialize all" (the implicit asset
job) each build the definitions from the same environment, extract the source the
environment names into the warehouse it names, and then invoke dbt. The dbt CLI is
replaced by a recorder that stops the run there: the arguments dbt would receive (the
`as_of` of MEALYTICS_AS_OF, the warehouse path) must be identical in all four.
"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import duckdb
import pytest

import seeds
from pipelines import cli
from pipelines.definitions import build_definitions
from pipelines.defs.dbt.assets import MealyticsDbt
from pipelines.defs.schedules import ALL_ASSETS_JOB

AS_OF = "2026-01-09"


class Recorded(Exception):
    """Raised by the fake dbt CLI once it has recorded its arguments."""


@pytest.fixture
def environment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'source.db'}"
    seeds.generate(url, customers=40, days=10, seed=5, start=dt.date(2026, 1, 1), progress=False)
    monkeypatch.chdir(tmp_path)  # no dagster_home/ here: an ephemeral instance
    for name in ("MEALYTICS_PUBLISH_DIR", "MEALYTICS_PUBLISHED", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEALYTICS_SOURCE_URL", url)
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("MEALYTICS_AS_OF", AS_OF)
    calls: list[list[str]] = []

    def record(self, args, **kwargs):
        calls.append(list(args))
        raise Recorded("dbt not run: arguments recorded")

    monkeypatch.setattr(MealyticsDbt, "cli", record)
    return tmp_path, calls


def _scheduled_run(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def("daily_refresh")
    with dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 1, 10, 2, tzinfo=dt.UTC)
    ) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    defs.resolve_job_def(ALL_ASSETS_JOB).execute_in_process(
        run_config=request.run_config,
        tags=request.tags,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _launchpad_run(defs: dg.Definitions) -> None:
    defs.resolve_job_def(ALL_ASSETS_JOB).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def _materialize_all(defs: dg.Definitions) -> None:
    defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def test_every_way_of_running_gives_dbt_the_same_command(environment):
    root, calls = environment
    assert cli.main(["-q", "run"]) == 1  # the recorder stops it at dbt
    for start in (_scheduled_run, _launchpad_run, _materialize_all):
        start(build_definitions())
    assert len(calls) == 4
    assert calls[1:] == [calls[0]] * 3
    (args,) = {tuple(call) for call in calls}
    assert args[0] == "build" and "--full-refresh" not in args
    variables = json.loads(args[args.index("--vars") + 1])
    assert variables == {"as_of": AS_OF, "warehouse": str((root / "w.duckdb").resolve())}
    # Every run extracted the source the environment names into that warehouse.
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    try:
        runs = con.execute("select count(distinct last_run_id) from meta._sync_state").fetchone()
        users = con.execute("select count(*) from raw.accounts_user").fetchone()
    finally:
        con.close()
    assert users == (40,)
    assert runs == (1,)  # the last run wrote every table's state


def test_the_run_config_as_of_wins_over_the_settings(environment):
    _, calls = environment
    assert cli.main(["-q", "run", "--as-of", "2026-01-05"]) == 1
    variables = json.loads(calls[0][calls[0].index("--vars") + 1])
    assert variables["as_of"] == "2026-01-05"


def test_without_as_of_dbt_decides_yesterday(environment, monkeypatch):
    _, calls = environment
    monkeypatch.delenv("MEALYTICS_AS_OF")
    _launchpad_run(build_definitions())
    variables = json.loads(calls[0][calls[0].index("--vars") + 1])
    assert "as_of" not in variables
