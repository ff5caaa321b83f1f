"""The Dagster code location: one `Definitions` for the whole graph.

source → raw/* (extraction) → staging/* → intermediate/* → marts/* (dbt) → publish/* (Parquet
files and the static dashboard), with the raw
reconciliation checks, the dbt tests as checks, freshness checks on the marts, a daily
schedule and a run-failure sensor. `dagster dev -m pipelines.definitions` loads `defs`.

The graph is the same on both dbt targets (`MEALYTICS_DBT_TARGET`): on spark the extraction
step also writes the lake (raw as Parquet, `pipelines.lake`) and checks it, dbt runs with
`--target spark`, and publishing reads Spark's marts; the dbt assets come from the same
manifest (parsed on the default, duckdb, target).

Steps run in one process, one after another: the warehouse is a DuckDB file with a single
writer, so extraction, its checks and dbt must never overlap. Runs do not overlap either:
each holds the warehouse's lock file while it uses the warehouse (`pipelines.warehouse_lock`,
taken by the `warehouse` resource), whether queued by `dagster dev` (whose
dagster_home/dagster.yaml also lets one run at a time) or started by `mealytics run`.
"""

from pathlib import Path

import dagster as dg

from pipelines import settings
from pipelines.defs.dbt import build_dbt_assets, dbt_project, dbt_resource
from pipelines.defs.freshness import build_mart_freshness
from pipelines.defs.publish import build_publish_assets
from pipelines.defs.raw import build_raw_defs
from pipelines.defs.resources import Warehouse, default_resources
from pipelines.defs.schedules import all_assets_job, daily_schedule, refresh_schedule
from pipelines.defs.sensors import report_run_failures

MARTS = "marts"


def build_definitions(
    *,
    config: settings.Settings | None = None,
    resources: dict | None = None,
    dbt_project_dir: str | Path | None = None,
    timezone: str | None = None,
) -> dg.Definitions:
    """The whole code location, from `config` (default: the environment, or `.env`, read
    now, once): the resources, the dbt resource's `as_of`, the schedule's time zone.
    `resources` and `timezone` override what `config` gives (tests).

    Sets the process's umask to owner only first (`settings.owner_only_files`): every
    process that loads the code location, `dagster dev`'s code server and the run workers
    it launches included, then creates its files rw------- (dbt's target/ and logs/ from
    the parse below, then each run's warehouse, Parquet, dashboard and published copy).
    """
    settings.owner_only_files()
    config = config or settings.Settings.from_env()
    resources = dict(resources) if resources is not None else default_resources(config)
    raw = build_raw_defs(resources=resources)
    artifacts = _dbt_artifacts(config, resources)
    project = dbt_project(dbt_project_dir, artifacts)
    dbt_models = build_dbt_assets(project, config.dbt_docs_url)
    marts = sorted((k for k in dbt_models.keys if k.path[0] == MARTS), key=lambda k: k.path)
    freshness_checks, freshness_sensors = build_mart_freshness(marts)
    job = all_assets_job()
    return dg.Definitions.merge(
        raw,
        dg.Definitions(
            assets=[dbt_models, *build_publish_assets(marts)],
            asset_checks=freshness_checks,
            jobs=[job],
            schedules=[
                daily_schedule(job, timezone or config.schedule_timezone),
                *(
                    [refresh_schedule(job, config.refresh_minutes,
                                      timezone or config.schedule_timezone)]
                    if config.refresh_minutes
                    else []
                ),
            ],
            sensors=[report_run_failures, *freshness_sensors],
            resources={
                "dbt": dbt_resource(
                    project,
                    as_of=config.as_of,
                    artifacts_dir=artifacts,
                    keep_runs=config.dbt_keep_runs,
                    unit_tests=config.dbt_unit_tests,
                    target=config.dbt_target,
                    lake=_lake(config, resources),
                    spark_master=config.spark_master,
                )
            },
            executor=dg.in_process_executor,
        ),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()


def _dbt_artifacts(config: settings.Settings, resources: dict) -> Path:
    """dbt's folder beside the warehouse the definitions write: the `warehouse` resource's
    when one is given (tests, another deployment), else the settings' (`dbt/`)."""
    warehouse = resources.get("warehouse")
    if isinstance(warehouse, Warehouse):
        return Path(warehouse.path).resolve().parent / "dbt"
    return config.dbt_artifacts


def _lake(config: settings.Settings, resources: dict) -> str:
    """The lake dbt reads on spark: the `warehouse` resource's (what the extraction writes)
    when it names one, else the settings'."""
    warehouse = resources.get("warehouse")
    lake = getattr(warehouse, "lake", None)
    return str(lake) if lake else str(config.lake_folder)
