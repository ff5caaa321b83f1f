"""The dbt models as Dagster assets, below the raw assets they read.

Keys are `[schema, model]` (`staging/stg_orders`, `marts/dim_customers`) and groups are the
schemas, so the graph reads raw → staging → intermediate → marts. A dbt source
`source('raw', t)` is the raw asset `raw/t` itself, so the lineage has no gap. dbt tests
become asset checks (dagster-dbt's default), unit tests run inside `dbt build`.
"""

import datetime as dt
import functools
import json
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from pipelines import duck
from pipelines.as_of import guard_warehouse
from pipelines.dbt_args import dbt_build_args, dbt_vars, parse_as_of
from pipelines.defs.dbt import changed
from pipelines.defs.dbt.project import dbt_executable, prune_runs, seed_partial_parse
from pipelines.defs.raw.assets import asset_key as raw_asset_key
from pipelines.defs.resources import Warehouse
from pipelines.publish.docs import dbt_docs_url
from pipelines.settings import DBT_PROFILE_TARGETS, DEFAULT_DBT_KEEP_RUNS

DBT_ASSETS_NAME = "dbt_models"
#: The folder of the artifacts folder holding one folder per dbt invocation.
RUNS_FOLDER = "runs"
#: The dbt source whose tables the raw assets land.
RAW_SOURCE = "raw"


class MealyticsDbtTranslator(DagsterDbtTranslator):
    """dbt nodes → asset keys `[schema, name]`, groups by schema; `source('raw', t)` → `raw/t`."""

    def __init__(self, docs_url: str | None = None) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True))
        #: `MEALYTICS_DBT_DOCS_URL`; None: `make docs`' static page.
        self.docs_url = docs_url

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            if dbt_resource_props["source_name"] == RAW_SOURCE:
                return raw_asset_key(dbt_resource_props["name"])
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        """dagster-dbt's metadata plus `dbt_docs`: the node's page in `make docs`' output."""
        metadata = dict(super().get_metadata(dbt_resource_props))
        kind = dbt_resource_props["resource_type"]
        if kind in ("model", "seed", "snapshot"):
            url = dbt_docs_url(dbt_resource_props["unique_id"], kind, self.docs_url)
            metadata["dbt_docs"] = dg.MetadataValue.url(url)
        return metadata

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        # Reference seeds live in schema staging, beside the models that read them.
        return dbt_resource_props["schema"]


class DbtBuildConfig(dg.Config):
    """Run configuration of the dbt build."""

    #: Rebuild incremental models and seeds from scratch (`dbt build --full-refresh`).
    full_refresh: bool = False
    #: The business date the marts describe as "now" (YYYY-MM-DD); empty: the `dbt`
    #: resource's (`MEALYTICS_AS_OF`), else yesterday per website time zone.
    as_of: str | None = None
    #: With no as_of: the marts end with today's partial day, not yesterday (the frequent
    #: refresh's runs set it; METRICS.md's default stays yesterday).
    today_so_far: bool = False
    #: Build only the models downstream of raw tables changed since the last build that
    #: succeeded whole, and nothing when none changed (`pipelines.defs.dbt.changed`); False:
    #: every model, as a first build would (incremental models still reprocess only their
    #: changed slices).
    only_changed: bool = True


def _stop(process: subprocess.Popen, timeout_s: float = 30) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class MealyticsDbt(DbtCliResource):
    """The dbt CLI, and the run's defaults that come from the settings, not from run config."""

    #: The marts' as_of date (YYYY-MM-DD) when the run's config names none
    #: (`MEALYTICS_AS_OF`); None: yesterday in each website's zone.
    as_of: str | None = None
    #: Where each invocation's target, logs and run artifacts go (`runs/<op>-<run>-<id>`):
    #: `Settings.dbt_artifacts`, beside the warehouse; None: dagster-dbt's default, inside
    #: the project (tests that build a copy of it).
    artifacts_dir: str | None = None
    #: Invocation folders kept in `runs/` (`MEALYTICS_DBT_KEEP_RUNS`), the newest.
    keep_runs: int = DEFAULT_DBT_KEEP_RUNS
    #: Whether `dbt build` runs the unit tests too (`MEALYTICS_DBT_UNIT_TESTS`; CI does).
    unit_tests: bool = False
    #: On the spark target (`target="spark"`, `MEALYTICS_DBT_TARGET=spark`): the lake
    #: (`MEALYTICS_LAKE`, absolute) and Spark's master (`MEALYTICS_SPARK_MASTER`), passed
    #: to dbt as the vars `lake` and `spark_master` (the profile's spark output reads them).
    lake: str | None = None
    spark_master: str | None = None

    @property
    def on_spark(self) -> bool:
        return self.target == DBT_PROFILE_TARGETS["spark"]

    @functools.cached_property
    def _cli_version(self):
        """dagster-dbt asks `dbt --version` in a subprocess before each invocation (2.6 s
        here); the venv's own dbt (`dbt_executable`) is the installed dbt-core."""
        from importlib.metadata import version as installed

        from packaging import version

        ours = Path(self.dbt_executable).parent == Path(sys.executable).parent
        if ours or Path(self.dbt_executable).name == SPARK_LAUNCHER:
            return version.parse(installed("dbt-core"))
        return super()._cli_version

    def invocation_path(self, context: dg.AssetExecutionContext) -> Path | None:
        """A new folder for one invocation's target and logs, outside the code tree."""
        if not self.artifacts_dir:
            return None
        run = context.run.run_id[:8] if context.run is not None else "none"
        name = f"{DBT_ASSETS_NAME}-{run}-{uuid.uuid4().hex[:7]}"
        path = Path(self.artifacts_dir) / RUNS_FOLDER / name
        seed_partial_parse(path.parent, path)
        return path

    def prune(self) -> None:
        """Keep the `keep_runs` newest invocation folders (about 26 MB each)."""
        if self.artifacts_dir:
            prune_runs(Path(self.artifacts_dir) / RUNS_FOLDER, self.keep_runs)


def dbt_resource(
    project: DbtProject,
    as_of: dt.date | None = None,
    artifacts_dir: str | Path | None = None,
    keep_runs: int = DEFAULT_DBT_KEEP_RUNS,
    unit_tests: bool = False,
    *,
    target: str = "duckdb",
    lake: str | Path | None = None,
    spark_master: str | None = None,
) -> MealyticsDbt:
    """The dbt CLI for `project`, with the venv's dbt executable, on `target` ("duckdb":
    the profile's default output; "spark": its `spark` output)."""
    spark = target == "spark"
    project_dir = getattr(project, "project_dir", project)
    return MealyticsDbt(
        project_dir=project,
        dbt_executable=spark_dbt_executable(project_dir, artifacts_dir)
        if spark
        else dbt_executable(),
        as_of=as_of.isoformat() if as_of else None,
        artifacts_dir=str(artifacts_dir) if artifacts_dir else None,
        keep_runs=keep_runs,
        unit_tests=unit_tests,
        target=DBT_PROFILE_TARGETS["spark"] if spark else None,
        lake=str(Path(lake).resolve()) if spark and lake else None,
        spark_master=spark_master if spark else None,
    )


#: spark-dbt's entry point (dbt_project/): dbt with the project's Python models run in the
#: session's Spark (dbt-spark's `session` method has no Python submission of its own).
SPARK_ENTRY = "dbt_spark_session.py"
SPARK_LAUNCHER = "dbt-spark-session"


def spark_dbt_executable(project_dir: str | Path, folder: str | Path | None) -> str:
    """The dbt executable of the spark target: a launcher (in `folder`, written now, owner
    only) running the project's SPARK_ENTRY with this Python; plain dbt without one."""
    import tempfile

    entry = Path(project_dir).resolve() / SPARK_ENTRY
    if not entry.exists():
        return dbt_executable()
    folder = Path(folder) if folder else Path(tempfile.gettempdir()) / "mealytics-dbt"
    folder.mkdir(parents=True, exist_ok=True)
    launcher = folder / SPARK_LAUNCHER
    launcher.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        f"sys.argv[0] = {str(entry)!r}\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    launcher.chmod(0o700)
    return str(launcher)


def target_vars(dbt: MealyticsDbt, warehouse: Warehouse) -> dict[str, str]:
    """The vars naming where the target's data is: the DuckDB file always (the duckdb
    output's path; on spark, the extraction's warehouse), and on spark the lake and master."""
    variables = {"warehouse": str(Path(warehouse.path).resolve())}
    if dbt.on_spark:
        variables["lake"] = dbt.lake or str(Path(warehouse.path).resolve().parent / "lake")
        if dbt.spark_master:
            variables["spark_master"] = dbt.spark_master
    return variables


def exclude_nodes(args: list[str], names: list[str]) -> list[str]:
    """`args` with `names` added to its `--exclude` (one flag: dbt reads the last one)."""
    if not names:
        return list(args)
    out = list(args)
    if "--exclude" in out:
        at = out.index("--exclude") + 1
        out[at] = " ".join([out[at], *names])
        return out
    return [*out, "--exclude", " ".join(names)]


def dbt_invocation_args(
    config: DbtBuildConfig,
    dbt: MealyticsDbt,
    warehouse: Warehouse,
    plan: changed.Plan | None = None,
) -> list:
    """The `dbt build` arguments of a run: the run config's `as_of`, else the resource's;
    the warehouse file the `warehouse` resource names, absolute (dbt runs in dbt_project/),
    as a var the profile reads, so nothing is passed through the environment;
    `--full-refresh` when the run config or the `plan` asks for it (a stale reference)."""
    return dbt_build_args(
        full_refresh=config.full_refresh or (plan is not None and plan.full_refresh),
        as_of=config.as_of or dbt.as_of,
        extra_vars=target_vars(dbt, warehouse),
        unit_tests=dbt.unit_tests,
        today_so_far=config.today_so_far,
    )


@functools.lru_cache(maxsize=4)
def _manifest(path: str, mtime: float) -> dict:
    return json.loads(Path(path).read_text())


def load_manifest(path: Path) -> dict:
    """The parsed manifest.json at `path` (cached while the file is unchanged)."""
    return _manifest(str(path), path.stat().st_mtime)


def build_plan(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: MealyticsDbt,
    warehouse: Warehouse,
    project: DbtProject,
) -> changed.Plan:
    """What this run's dbt build must do (`pipelines.defs.dbt.changed.plan`)."""
    if dbt.on_spark:
        # The change-driven selection compares with the last DuckDB build (its state is in
        # the DuckDB file): on Spark every run builds every node, not recorded. The change
        # log's rows the lake has read are pruned first, and the DuckDB reference then
        # marked stale (the next DuckDB run is a full refresh): `changed.spark_plan`.
        return changed.spark_plan(
            warehouse.path,
            target_vars(dbt, warehouse)["lake"],
            run_id=context.run.run_id if context.run is not None else None,
        )
    selected = context.selected_asset_keys
    whole = selected == set(context.assets_def.keys)
    as_of = parse_as_of(config.as_of or dbt.as_of)
    variables = dbt_vars(
        as_of=as_of,
        extra=target_vars(dbt, warehouse),
        today_so_far=config.today_so_far,
    )
    return changed.plan(
        warehouse.path,
        load_manifest(project.manifest_path),
        fingerprint=changed.code_fingerprint(project.project_dir),
        vars_=json.dumps(variables, sort_keys=True),
        as_of=as_of.isoformat() if as_of else None,
        today_so_far=config.today_so_far,
        full_refresh=config.full_refresh,
        whole=whole,
        only_changed=config.only_changed,
        run_id=context.run.run_id if context.run is not None else None,
    )


def _unchanged_results(
    context: dg.AssetExecutionContext,
    plan: changed.Plan,
    manifest: Mapping[str, Any],
    translator: DagsterDbtTranslator,
):
    """A materialization for each asset the plan left out: its table is the one the build
    named in the metadata wrote, and no raw table it reads has changed since."""
    selected = context.selected_asset_keys
    since = plan.previous.run_id if plan.previous is not None else None
    for uid in plan.unchanged:
        node = manifest["nodes"][uid]
        key = translator.get_asset_key(node)
        if key not in selected:
            continue
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "mealytics/unchanged": f"not rebuilt: nothing it reads changed since run {since}",
                "unique_id": uid,
            },
        )


def _record(warehouse: Warehouse, plan: changed.Plan, nodes_built: int) -> None:
    con = duck.connect(warehouse.path)
    try:
        changed.record_build(con, plan.state, plan.kind, nodes_built)
    finally:
        con.close()


def build_dbt_assets(project: DbtProject, docs_url: str | None = None) -> dg.AssetsDefinition:
    """One `@dbt_assets` over every model, seed and test of `project`, linking each node to
    its page of the dbt docs at `docs_url`."""

    translator = MealyticsDbtTranslator(docs_url)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        name=DBT_ASSETS_NAME,
        op_tags={"mealytics/writes": "warehouse"},
    )
    def dbt_models(
        context: dg.AssetExecutionContext,
        config: DbtBuildConfig,
        dbt: MealyticsDbt,
        warehouse: Warehouse,
    ):
        """`dbt build` of the selected models: staging views, intermediate tables (the thin
        filters among them views), mart tables and table macros, each followed by its tests.
        It starts after the raw extraction it depends on, and holds the DuckDB file's single
        write lock for the whole build."""
        # A scheduled or UI run with MEALYTICS_AS_OF or a run config's as_of is checked here,
        # against raw (the source's copy), before dbt builds anything (`mealytics run` has
        # checked it against the source before the run).
        guard_warehouse(parse_as_of(config.as_of or dbt.as_of), warehouse.path)
        plan = build_plan(context, config, dbt, warehouse, project)
        manifest = load_manifest(project.manifest_path)
        context.log.info(f"dbt: {plan.kind} ({plan.reason})")
        # What is not rebuilt first: no rebuilt model is upstream of an unchanged one.
        yield from _unchanged_results(context, plan, manifest, translator)
        if plan.kind == changed.NONE:
            _record(warehouse, plan, 0)
            return
        args = dbt_invocation_args(config, dbt, warehouse, plan)
        if plan.kind == changed.SOME:
            args = exclude_nodes(args, plan.exclude)
        context.log.info(f"dbt {' '.join(args)}")
        invocation = dbt.cli(args, context=context, target_path=dbt.invocation_path(context))
        built = failed = 0
        try:
            for event in invocation.stream():
                if isinstance(event, dg.Output | dg.AssetMaterialization):
                    built += 1
                elif isinstance(event, dg.AssetCheckResult) and not event.passed:
                    failed += 1
                yield event
        except BaseException:
            # dbt must not outlive a failed step: it would keep the warehouse's write lock.
            _stop(invocation.process)
            raise
        finally:
            dbt.prune()
        # Not a reference for skipping while any test failed, WARN included: the next run
        # tests again, so a failed check is never dropped from its exit code.
        if invocation.is_successful() and plan.record and not failed:
            _record(warehouse, plan, built)

    return dbt_models
