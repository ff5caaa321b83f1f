"""The frequent refresh (issue 16): its interval, its run config, and no overlapping runs."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.dbt_args import dbt_build_args, dbt_vars
from pipelines.defs.schedules import DBT_OP, all_assets_job, refresh_schedule
from pipelines.run import DBT_OP as RUN_DBT_OP
from pipelines.run import run_config
from pipelines.settings import REFRESH_MINUTES_VAR, Settings, SettingsError, refresh_cron


@pytest.mark.parametrize(
    ("minutes", "cron"),
    [(15, "*/15 * * * *"), (1, "*/1 * * * *"), (30, "*/30 * * * *"), (60, "0 * * * *"),
     (120, "0 */2 * * *"), (1440, "0 0 * * *")],
)
def test_an_interval_becomes_a_cron_schedule(minutes, cron):
    assert refresh_cron(minutes) == cron


def test_the_interval_setting():
    assert Settings.from_env({}).refresh_minutes == 15
    assert Settings.from_env({REFRESH_MINUTES_VAR: "0"}).refresh_minutes == 0
    assert Settings.from_env({REFRESH_MINUTES_VAR: "5"}).refresh_minutes == 5
    for bad, says in [("7", "divides an hour"), ("90", "divides an hour"),
                      ("soon", "a whole number of minutes"), ("-15", "0 turns it off")]:
        with pytest.raises(SettingsError, match=says) as caught:
            Settings.from_env({REFRESH_MINUTES_VAR: bad})
        assert f"{REFRESH_MINUTES_VAR}={bad!r}" in str(caught.value)


def test_today_so_far_reaches_dbt_unless_a_date_is_given():
    assert DBT_OP == RUN_DBT_OP
    assert dbt_vars(today_so_far=True) == {"today_so_far": True}
    assert dbt_vars(as_of="2026-03-01", today_so_far=True) == {"as_of": "2026-03-01"}
    assert dbt_build_args(today_so_far=True) == ["build", "--vars", '{"today_so_far": true}']
    config = run_config(today_so_far=True)["ops"][DBT_OP]["config"]
    assert config == {"full_refresh": False, "as_of": None, "today_so_far": True}
    assert "today_so_far" not in run_config()["ops"][DBT_OP]["config"]


def _evaluate(instance: dg.DagsterInstance):
    job = all_assets_job()
    defs = dg.Definitions(
        assets=[dg.AssetSpec("a")], jobs=[job], schedules=[refresh_schedule(job, 15, "UTC")]
    )
    schedule = defs.get_schedule_def("frequent_refresh")
    with dg.build_schedule_context(instance=instance) as context:
        return schedule.evaluate_tick(context)


def test_the_refresh_asks_for_today_so_far_and_never_overlaps():
    with dg.instance_for_test() as instance:
        (request,) = _evaluate(instance).run_requests
        assert request.run_config == {"ops": {DBT_OP: {"config": {"today_so_far": True}}}}
        running = dg.DagsterRun(job_name="all_assets", run_id="still-going",
                                status=dg.DagsterRunStatus.STARTED)
        instance.add_run(running)
        result = _evaluate(instance)
        assert not result.run_requests
        assert "still-going" in result.skip_message
        instance.report_run_canceled(running)
        (request,) = _evaluate(instance).run_requests
