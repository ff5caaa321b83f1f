"""`as_of` outside [first source date, tomorrow] is refused before anything is built or
published (issue 15, item 2): `--as-of 2099-01-01` used to build 52,781 empty days per
daily mart and publish them, `--as-of 2020-01-01` to publish empty marts.

The suite's small source: websites created 2026-09-01 (Kampala and Lagos), orders from
2026-10-01, so its first business date is 2026-09-01. dbt is replaced by a recorder: a run
that gets past the guard stops at dbt, with its arguments recorded.
"""

import datetime as dt
import json
import sqlite3
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import sqlalchemy as sa

from pipelines import cli
from pipelines.as_of import AsOfError, check_as_of, first_source_date
from pipelines.definitions import build_definitions
from pipelines.defs.dbt.assets import MealyticsDbt
from pipelines.defs.schedules import ALL_ASSETS_JOB
from pipelines.defs.sensors import step_error

FIRST = dt.date(2026, 9, 1)
TODAY = dt.date(2026, 12, 7)


@pytest.mark.parametrize(
    ("as_of", "refused"),
    [
        (dt.date(2020, 1, 1), "before the source's first business date (2026-09-01)"),
        (FIRST - dt.timedelta(days=1), "before the source's first business date (2026-09-01)"),
        (FIRST, None),
        (TODAY, None),
        (TODAY + dt.timedelta(days=1), None),
        (TODAY + dt.timedelta(days=2), "after tomorrow (2026-12-08, UTC)"),
        (dt.date(2099, 1, 1), "after tomorrow (2026-12-08, UTC)"),
        (None, None),
    ],
)
def test_the_allowed_range_is_first_source_date_to_tomorrow(as_of, refused):
    if refused is None:
        check_as_of(as_of, FIRST, today=TODAY)
        return
    with pytest.raises(AsOfError) as caught:
        check_as_of(as_of, FIRST, today=TODAY)
    message = str(caught.value)
    assert refused in message and "\n" not in message
    assert "use a date from 2026-09-01 to 2026-12-08" in message


def _first_date_by_hand(path) -> dt.date:
    """Each website's creation and first order as local dates, the earliest (SQLite)."""
    db = sqlite3.connect(path)
    try:
        dates = []
        for _website, zone, created in db.execute(
            "select w.id, w.timezone, min(w.created_at, coalesce(min(o.created_at), "
            "w.created_at)) from accounts_website w left join orders_order o "
            "on o.website_id = w.id group by w.id"
        ):
            moment = dt.datetime.fromisoformat(created).replace(tzinfo=dt.UTC)
            dates.append(moment.astimezone(ZoneInfo(zone)).date())
        return min(dates)
    finally:
        db.close()


def test_first_source_date_of_the_source_and_of_its_raw_copy(small_source_file, built_warehouse):
    assert _first_date_by_hand(small_source_file) == FIRST
    engine = sa.create_engine(f"sqlite:///{small_source_file}")
    with engine.connect() as conn:
        assert first_source_date(conn) == FIRST
    engine.dispose()
    raw = sa.create_engine(f"duckdb:///{built_warehouse}", connect_args={"read_only": True})
    with raw.connect() as conn:
        assert first_source_date(conn, schema="raw") == FIRST
    raw.dispose()


@pytest.fixture
def environment(small_source_file, tmp_path, monkeypatch):
    """The small source, a warehouse and publish folder in tmp_path; dbt records its args."""
    monkeypatch.chdir(tmp_path)  # no dagster_home/ here: an ephemeral instance
    for name in ("MEALYTICS_PUBLISH_DIR", "MEALYTICS_PUBLISHED", "DAGSTER_HOME", "MEALYTICS_AS_OF"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEALYTICS_SOURCE_URL", f"sqlite:///{small_source_file}")
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(tmp_path / "w.duckdb"))
    calls: list[list[str]] = []

    def record(self, args, **kwargs):
        calls.append(list(args))
        raise RuntimeError("dbt not run: arguments recorded")

    monkeypatch.setattr(MealyticsDbt, "cli", record)
    return tmp_path, calls


@pytest.mark.parametrize(
    ("flag", "env", "refused"),
    [
        ("2099-01-01", None, "as_of 2099-01-01 is after tomorrow"),
        ("2020-01-01", None, "as_of 2020-01-01 is before the source's first business date"),
        (None, "2099-01-01", "as_of 2099-01-01 is after tomorrow"),
        (None, "2020-01-01", "as_of 2020-01-01 is before the source's first business date"),
    ],
    ids=["flag-future", "flag-past", "env-future", "env-past"],
)
def test_mealytics_run_refuses_before_anything_is_built(
    environment, monkeypatch, capsys, flag, env, refused
):
    root, calls = environment
    if env is not None:
        monkeypatch.setenv("MEALYTICS_AS_OF", env)
    code = cli.main(["-q", "run", *(["--as-of", flag] if flag else [])])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"mealytics: error: {refused} (2026-09-01)" if "before" in refused
                          else f"mealytics: error: {refused} (")
    assert err.count("\n") == 1  # one line
    assert "nothing was built or published" in err
    assert calls == []  # dbt never started
    assert not (root / "w.duckdb").exists()  # nothing extracted either
    assert not list(root.glob("published*")) and not (root / "parquet").exists()


def test_mealytics_run_accepts_the_first_source_date(environment):
    _, calls = environment
    assert cli.main(["-q", "run", "--as-of", FIRST.isoformat()]) == 1  # stopped at dbt
    variables = json.loads(calls[0][calls[0].index("--vars") + 1])
    assert variables["as_of"] == FIRST.isoformat()


def test_a_scheduled_or_ui_run_refuses_at_dbt(environment, monkeypatch):
    """MEALYTICS_AS_OF reaches a run started by the schedule or the UI through the dbt
    resource: the dbt step refuses it (against raw) before dbt builds, so nothing is built
    from it and nothing is published."""
    _, calls = environment
    monkeypatch.setenv("MEALYTICS_AS_OF", "2099-01-01")
    result = build_definitions().resolve_job_def(ALL_ASSETS_JOB).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    assert calls == []
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "dbt_models"
    assert "as_of 2099-01-01 is after tomorrow" in step_error(failure)
    assert not any(
        e.asset_key.path[0] == "publish" for e in result.get_asset_materialization_events()
    )
