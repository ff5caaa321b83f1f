"""The daily run (every asset and check, at 02:00 in the business's time zone) and the
frequent refresh beside it (every `MEALYTICS_REFRESH_MINUTES`, the marts ending with today's
partial day). Runs never overlap: a refresh due while a run of the job is queued or going
is skipped (and the warehouse lock would make it wait anyway)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from pipelines.settings import refresh_cron

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

#: 02:00 local: yesterday is complete in every website's zone by then (METRICS.md, Time).
DAILY_CRON = "0 2 * * *"
ALL_ASSETS_JOB = "all_assets"


def all_assets_job() -> UnresolvedAssetJobDefinition:
    """Every asset with its checks: source → raw → staging → intermediate → marts."""
    return dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all(),
        description="Extract every source table into raw, then dbt build, with all checks.",
        tags={"mealytics/writes": "warehouse"},
    )


def daily_schedule(job: UnresolvedAssetJobDefinition, timezone: str) -> dg.ScheduleDefinition:
    """`job` every day at 02:00 in `timezone` (`MEALYTICS_SCHEDULE_TIMEZONE`)."""
    return dg.ScheduleDefinition(
        name="daily_refresh",
        job=job,
        cron_schedule=DAILY_CRON,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The whole graph once a day, after midnight in the business's zone.",
    )


#: The dbt step's op, whose run config takes `today_so_far` (pipelines.run.DBT_OP).
DBT_OP = "dbt_models"
REFRESH_SCHEDULE = "frequent_refresh"
_BUSY = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)


def refresh_schedule(
    job: UnresolvedAssetJobDefinition, minutes: int, timezone: str
) -> dg.ScheduleDefinition:
    """`job` every `minutes`, its marts ending with today's partial day ("today so far"),
    skipped while another run of the job is queued or running."""

    @dg.schedule(
        name=REFRESH_SCHEDULE,
        job=job,
        cron_schedule=refresh_cron(minutes),
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"The whole graph every {minutes} minutes, today so far; only what "
        "changed is extracted, transformed and published.",
    )
    def frequent_refresh(context: dg.ScheduleEvaluationContext):
        busy = context.instance.get_runs(
            filters=dg.RunsFilter(job_name=job.name, statuses=list(_BUSY)), limit=1
        )
        if busy:
            return dg.SkipReason(f"run {busy[0].run_id} of {job.name} is still going")
        return dg.RunRequest(run_config={"ops": {DBT_OP: {"config": {"today_so_far": True}}}})

    return frequent_refresh
