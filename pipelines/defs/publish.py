"""Publishing after each run, all or nothing: one step (`publish`) materializes
`publish/warehouse` (the DuckDB catalog readers open: a view per mart over the Parquet
files, the marts' table macros, the manifest; no other schema, no personal data),
`publish/parquet` (every mart as Parquet, only changed files written) and
`publish/dashboard` (the static HTML dashboard) together, downstream of every mart.

The step first asks whether the run may publish (`pipelines.publish.gate`, from the run's
own events in the Dagster instance): if an ERROR check of this run failed, a step failed or
another step has not finished, it fails with one line ("not published: check X on Y failed
(ERROR)") and writes nothing. Otherwise it builds a new version of all three and switches
readers to it with one atomic rename (`pipelines.publish.version`); any failure before that
rename leaves the previous version current, whole.

On the spark target (the `warehouse` resource names a lake) the marts are read from Spark's
Parquet tables in the lake instead of the build file (`pipelines.publish.spark`): the same
files, catalog and dashboard come out.

The files land in the `warehouse` resource's publish folder: beside the warehouse (by
default `data/published.duckdb`, `data/parquet/`, `data/dashboard.html`, `data/publish/`),
or under `MEALYTICS_PUBLISH_DIR`; the copy's reader path is `MEALYTICS_PUBLISHED` if set.
"""

import time
from collections.abc import Sequence

import dagster as dg

from pipelines.defs.resources import Warehouse
from pipelines.publish.gate import CheckResult, NotPublishedError, refusal
from pipelines.publish.version import publish_version

GROUP = "publish"
PARQUET_KEY = dg.AssetKey([GROUP, "parquet"])
DASHBOARD_KEY = dg.AssetKey([GROUP, "dashboard"])
WAREHOUSE_KEY = dg.AssetKey([GROUP, "warehouse"])
#: The step that publishes (one op for the three assets).
PUBLISH_OP = "publish"
#: Dagster runs a ready step of higher priority first: publishing comes after every check
#: step that is ready at the same time (raw checks, freshness checks), never before.
PRIORITY = "-100"


def build_publish_assets(marts: Sequence[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    """The publishing assets, one step depending on every mart in `marts`."""
    return [_publish_asset(list(marts))]


def _run_refusal(context: dg.AssetExecutionContext) -> str | None:
    """`gate.refusal` over this run's events: its check evaluations, failed steps, and the
    steps of its plan that have not finished (but this one)."""
    from dagster import DagsterEventType as T

    entries = context.instance.all_logs(
        context.run.run_id,
        of_type={T.ASSET_CHECK_EVALUATION, T.STEP_SUCCESS, T.STEP_FAILURE, T.STEP_SKIPPED},
    )
    checks, failed, finished = [], [], set()
    for entry in entries:
        event = entry.dagster_event
        if event.event_type == T.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            checks.append(
                CheckResult(
                    asset=data.asset_key.to_user_string(),
                    check=data.check_name,
                    passed=bool(data.passed),
                    severity=data.severity.value if data.severity else "ERROR",
                )
            )
            continue
        finished.add(event.step_key)
        if event.event_type == T.STEP_FAILURE:
            failed.append(event.step_key)
    this_step = context.op_execution_context.get_step_execution_context().step.key
    unfinished = []
    run = context.instance.get_run_by_id(context.run.run_id)
    if run is not None and run.execution_plan_snapshot_id:
        plan = context.instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        unfinished = [
            s.key for s in plan.steps if s.key != this_step and s.key not in finished
        ]
    return refusal(checks, failed, unfinished)


def _publish_asset(deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(WAREHOUSE_KEY, deps=deps, group_name=GROUP, kinds={"duckdb"}),
        dg.AssetSpec(PARQUET_KEY, deps=deps, group_name=GROUP, kinds={"parquet"}),
        dg.AssetSpec(DASHBOARD_KEY, deps=deps, group_name=GROUP, kinds={"html"}),
    ]

    @dg.multi_asset(
        specs=specs, name=PUBLISH_OP, can_subset=False, op_tags={"dagster/priority": PRIORITY}
    )
    def publish(context: dg.AssetExecutionContext, warehouse: Warehouse):
        """A new version of what readers open, or nothing: every mart as Parquet
        (`parquet/<mart>.parquet`; unchanged files hard-linked from the previous version),
        the catalog over them (`<publish dir>/published.duckdb` or `MEALYTICS_PUBLISHED`:
        views, table macros, the manifest `publish.manifest`) and the self-contained
        dashboard `dashboard.html`, in a new version folder (`publish/versions/<id>/`),
        fsynced, then made current by one atomic rename of `publish/current`. Refused,
        writing nothing, if an ERROR check of the run failed or a step failed. Readers
        holding the old version keep it whole (it is not pruned while they hold it); the
        run never waits for readers."""
        reason = _run_refusal(context)
        if reason is not None:
            raise dg.Failure(
                description=str(NotPublishedError(f"not published: {reason}")),
                allow_retries=False,
            )
        began = time.perf_counter()
        info = _publish(warehouse, {"run_id": context.run.run_id})
        context.log.info(f"version {info['version']} published in {warehouse.publish_folder}")
        yield from _results(info, warehouse, round(time.perf_counter() - began, 3))

    return publish


def _publish(warehouse: Warehouse, details: dict) -> dict:
    """A new version from the build's marts: the DuckDB file's schema marts, or on the spark
    target (the resource names a lake) Spark's Parquet marts in the lake
    (`pipelines.publish.spark`, the table macros compiled from the dbt project for DuckDB)."""
    if warehouse.lake:
        from pipelines.defs.dbt.project import DBT_PROJECT_DIR
        from pipelines.publish.spark import publish_from_spark

        return publish_from_spark(
            warehouse.lake,
            warehouse.publish_folder,
            published=warehouse.published_file,
            details=details,
            project_dir=DBT_PROJECT_DIR,
        )
    return publish_version(
        warehouse.path,
        warehouse.publish_folder,
        published=warehouse.published_file,
        details=details,
    )


def _results(info: dict, warehouse: Warehouse, duration: float):
    """The three assets' materializations of one published version."""
    folder = warehouse.publish_folder
    common = {"version": info["version"], "duration_s": duration}
    yield dg.MaterializeResult(
        asset_key=WAREHOUSE_KEY,
        metadata={
            **common,
            "path": dg.MetadataValue.path(str(warehouse.published_file)),
            "marts": info["marts"],
            "size_bytes": info["database_bytes"],
        },
    )
    rows = info["rows_per_mart"]
    yield dg.MaterializeResult(
        asset_key=PARQUET_KEY,
        metadata={
            **common,
            "path": dg.MetadataValue.path(str(folder / "parquet")),
            "marts": len(rows),
            "dagster/row_count": sum(rows.values()),
            "rows_per_mart": dg.MetadataValue.json(rows),
            "files_written": len(info["parquet_written"]),
            "files_linked": len(info["parquet_linked"]),
        },
    )
    page = folder / "dashboard.html"
    yield dg.MaterializeResult(
        asset_key=DASHBOARD_KEY,
        metadata={
            **common,
            "path": dg.MetadataValue.path(str(page)),
            "url": dg.MetadataValue.url(page.resolve().as_uri()),
        },
    )
