"""The daily run: every asset and check, at 02:00 in the business's time zone."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

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
