"""The `raw` assets: one per source table, generated from the source's reflected tables.

Every table is an asset `raw/<table>` (group `raw`, kinds duckdb + the source dialect),
matching dbt's `source('raw', '<table>')`. They are specs of one subsettable multi-asset
because a DuckDB file has a single writer: the tables of a run load one after another
through one connection, each in its own transaction. The asset is a thin wrapper around
the table loop (`pipelines.extract.extract_tables`, the same loop the tests and the
benchmarks run): a table that fails (schema drift, a vanished table) does not stop the
others; the step then fails, naming it.

Two guards are checks of the asset itself (severity ERROR), because a refused table is
not materialized and checks downstream of it would not run:
- `mass_delete_guard`: the run would delete more of the table than it may unconfirmed
  (`pipelines.extract.deletes.guard_deletes`; `mealytics run --confirm-deletes`).
- `contract_in_source` (contract tables only): a contract column raw copied is gone from
  the source (`drift`), or the contract table itself is. A contract table missing from the
  source keeps its asset (from the contract) and fails it by name, so its frozen copy
  never feeds a mart; a table a later contract version added (`models.schema.ADDED_TABLES`)
  that an older source never had is no asset at all, as before.

The source is reflected once per run (`pipelines.extract.catalog`): the plans reflected
while the definitions were built serve the run that follows them in the same process;
the run keeps its plans for its reconciliation checks.
"""

import datetime as dt
import logging
from dataclasses import replace

import dagster as dg
import sqlalchemy as sa

from pipelines import secrets
from pipelines.defs.raw.lake import lake_check_specs, write_lake
from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.errors import ContractBrokenError, MassDeleteError, TableNotInSourceError
from pipelines.extract import (
    ExtractOptions,
    RetryPolicy,
    Source,
    SourceUnavailableError,
    TableFailure,
    TablePlan,
    TableResult,
    TableSelection,
    extract_tables,
)
from pipelines.extract.catalog import PlanCatalog, source_key
from pipelines.settings import mask_url

log = logging.getLogger(__name__)

GROUP = "raw"
#: The guards' checks (see the module's doc).
MASS_DELETE_GUARD = "mass_delete_guard"
CONTRACT_IN_SOURCE = "contract_in_source"
#: The plans of this process's runs: offered by `discover`, kept per run for the checks.
PLANS = PlanCatalog()
#: Dagster's kind names (they carry icons) for SQLAlchemy dialects.
_KINDS = {"postgresql": "postgres"}


class RawExtractConfig(dg.Config):
    """Run configuration of the raw extraction."""

    full_refresh: bool = False
    #: Re-read this many minutes below the watermark (late commits).
    lookback_minutes: int = 60
    #: Hard deletes: each run a cheap probe per table (row counts; PostgreSQL's delete
    #: counter) says whether rows may be gone, and only then are the table's primary keys
    #: reconciled with raw's. Every key is also reconciled this often whatever the probe
    #: says (for deletes masked by as many late inserts): 0 = every run, -1 = never.
    delete_check_every_minutes: int = 7 * 24 * 60
    delete_probe: bool = True
    #: Every table's full rows compared with the source (content reconciliation: repairs
    #: changes that leave `updated_at`, a clock stepped back, a restore) this often, in
    #: minutes: 0 = every run, -1 = never; None: the source's setting
    #: (`MEALYTICS_CONTENT_CHECK_EVERY`, daily by default).
    content_check_every_minutes: int | None = None
    #: Source faults that pass (unreachable, connection dropped, lock timeout, SQLite
    #: "database is locked"): retries per table, the first after `retry_pause_s`, doubling.
    retries: int = 3
    retry_pause_s: float = 1.0
    #: The mass-deletion guard: tables (or "all") whose deletes this run confirms
    #: (`mealytics run --confirm-deletes`); the share in percent (None: the source's
    #: `MEALYTICS_MAX_DELETE_SHARE`, 10 by default) of a table of at least
    #: `mass_delete_min_rows` rows that a run may delete unconfirmed.
    confirm_deletes: list[str] = []
    max_delete_pct: float | None = None
    mass_delete_min_rows: int = 1000

    def options(
        self, run_id: str | None = None, content_minutes: int = 24 * 60, delete_pct: float = 10.0
    ) -> ExtractOptions:
        """The extraction's options; `content_minutes` and `delete_pct`: the source's
        content cadence and deletion share, unless this run's config sets its own."""
        every = self.delete_check_every_minutes
        content = self.content_check_every_minutes
        content = content_minutes if content is None else content
        return ExtractOptions(
            full_refresh=self.full_refresh,
            lookback=dt.timedelta(minutes=self.lookback_minutes),
            delete_check_every=None if every < 0 else dt.timedelta(minutes=every),
            delete_probe=self.delete_probe,
            content_check_every=None if content < 0 else dt.timedelta(minutes=content),
            run_id=run_id,
            max_delete_share=(delete_pct if self.max_delete_pct is None else self.max_delete_pct)
            / 100,
            mass_delete_min_rows=self.mass_delete_min_rows,
            confirm_deletes=tuple(self.confirm_deletes),
        )


def asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, table])


def _describe(plan: TablePlan) -> str:
    how = {
        "merge": f"read by `{plan.cursor}` above the watermark (minus a lookback) and "
        f"merged by primary key {plan.primary_key}",
        "append": f"append-only: rows with `{plan.cursor}` above the watermark are new",
        "replace": "no cursor and no integer key: copied whole each run",
    }[plan.mode]
    return (
        f"Source table `{plan.name}` copied into `raw.{plan.name}` with its own column types; "
        f"{how}. Hard deletes are found by primary-key reconciliation and recorded in "
        "`meta._deleted_rows`. One row per source row."
    )


def _fallback_plans(selection: TableSelection, dialect: str) -> list[TablePlan]:
    """The contract's tables (models.schema), when the source cannot be reflected yet."""
    from models.schema import metadata
    from pipelines.extract.plan import plan_table

    return [
        plan_table(t, dialect)
        for t in sorted(metadata.tables.values(), key=lambda t: t.name)
        if selection.wants(t.name)
    ]


def copied_tables(warehouse: str | None) -> set[str]:
    """The tables the warehouse's sync state says were copied (read-only, best effort:
    empty when the file is missing, held by a writer, or has no sync state yet)."""
    import os

    import duckdb

    from pipelines import duck
    from pipelines.extract import warehouse as wh

    if not warehouse or not os.path.exists(warehouse):
        return set()
    try:
        con = duck.connect(warehouse, read_only=True)
    except duckdb.Error:
        return set()
    try:
        rows = con.execute(f"SELECT table_name FROM {wh.META}.{wh.SYNC_STATE}").fetchall()
    except duckdb.Error:
        return set()
    finally:
        con.close()
    return {r[0] for r in rows}


def _vanished_contract_plans(
    plans: list[TablePlan], selection: TableSelection, dialect: str, warehouse: str | None
) -> list[TablePlan]:
    """The contract's tables that raw copied and the source no longer has (dropped or
    renamed): their assets stay (from the contract) and fail by name, since a run has no
    plan for them, so their frozen raw copies never feed a mart unnoticed. A contract
    table never copied (a table a later version added, on an older source) is no asset."""
    found = {p.name for p in plans}
    copied = copied_tables(warehouse)
    return [
        p for p in _fallback_plans(selection, dialect) if p.name not in found and p.name in copied
    ]


def discover(
    source_url: str, selection: TableSelection | None = None, warehouse: str | None = None
) -> list[TablePlan]:
    """The tables to expose as assets: reflected from the source, or the contract's.

    A code location must load even when the source is down (the run then fails clearly),
    so an unreachable source falls back to the tables of SOURCE_SCHEMA.md.
    """
    selection = selection or TableSelection()
    source = Source(source_url)
    try:
        try:
            plans = source.plans(selection)
        finally:
            source.dispose()
        PLANS.offer(source_key(source.url, selection), plans)
        return plans + _vanished_contract_plans(plans, selection, source.dialect, warehouse)
    except (SourceUnavailableError, sa.exc.OperationalError) as exc:
        # Unreachable, or busy (a writer's lock): load the code location all the same.
        log.warning("raw assets from the source contract, not reflection: %s", exc)
        return _fallback_plans(selection, source.dialect)


def _metadata(result: TableResult, source_url: str) -> dict:
    md = {
        "dagster/row_count": dg.MetadataValue.int(result.row_count),
        "rows_read": dg.MetadataValue.int(result.rows_read),
        "rows_inserted": dg.MetadataValue.int(result.rows_inserted),
        "rows_updated": dg.MetadataValue.int(result.rows_updated),
        "rows_deleted": dg.MetadataValue.int(result.rows_deleted),
        "rows_backfilled": dg.MetadataValue.int(result.rows_backfilled),
        "watermark": dg.MetadataValue.text(result.watermark or ""),
        "mode": dg.MetadataValue.text(result.mode),
        "full_refresh": dg.MetadataValue.bool(result.full_refresh),
        "delete_checked": dg.MetadataValue.bool(result.delete_checked),
        "delete_check": dg.MetadataValue.text(result.delete_check_reason),
        "content_checked": dg.MetadataValue.bool(result.content_checked),
        "rows_repaired": dg.MetadataValue.int(result.rows_repaired),
        "duration_s": dg.MetadataValue.float(round(result.duration_s, 3)),
        "rows_per_s": dg.MetadataValue.float(round(result.rows_per_s, 1)),
        "source": dg.MetadataValue.text(mask_url(source_url)),
    }
    if result.xid_watermark is not None:  # PostgreSQL's xmin cursor: where the next read starts
        md["xid_watermark"] = dg.MetadataValue.int(result.xid_watermark)
    for name in ("columns_added", "columns_dropped", "columns_widened"):
        if getattr(result, name):
            md[name] = dg.MetadataValue.text(", ".join(getattr(result, name)))
    return md


def _check_specs(plans: list[TablePlan]) -> list[dg.AssetCheckSpec]:
    from models.schema import metadata

    specs = []
    for p in plans:
        specs.append(
            dg.AssetCheckSpec(
                MASS_DELETE_GUARD,
                asset=asset_key(p.name),
                description=f"raw.{p.name}: the run deleted no more than the guard allows "
                "(MEALYTICS_MAX_DELETE_SHARE of a table of 1,000 rows or more, and never "
                "all rows) unless confirmed with --confirm-deletes.",
            )
        )
        if p.name in metadata.tables:
            specs.append(
                dg.AssetCheckSpec(
                    CONTRACT_IN_SOURCE,
                    asset=asset_key(p.name),
                    description=f"Source table {p.name} and every contract column raw "
                    "copied from it are still in the source (not dropped or renamed).",
                )
            )
    return specs


def _guard_results(context, outcome: TableResult | TableFailure) -> list[dg.AssetCheckResult]:
    """The guards' checks of one table's outcome (those the run selected)."""
    from models.schema import metadata

    table = outcome.table
    key = asset_key(table)
    error = outcome.error if isinstance(outcome, TableFailure) else None
    results = []
    if isinstance(error, MassDeleteError):
        md = {
            "rows_to_delete": dg.MetadataValue.int(error.deleting),
            "rows": dg.MetadataValue.int(error.rows),
            "share_pct": dg.MetadataValue.float(round(error.share * 100, 2)),
            "how_to_confirm": dg.MetadataValue.text(
                f"mealytics run --confirm-deletes {table}  (run config raw_tables."
                f"confirm_deletes: [{table}]), or raise MEALYTICS_MAX_DELETE_SHARE"
            ),
            "message": dg.MetadataValue.text(str(error)),
        }
        results.append((MASS_DELETE_GUARD, False, md))
    elif error is None:
        md = {"rows_deleted": dg.MetadataValue.int(outcome.rows_deleted)}
        results.append((MASS_DELETE_GUARD, True, md))
    if table in metadata.tables:
        missing = None
        if isinstance(error, TableNotInSourceError):
            missing = f"{table} (the table)"
        elif isinstance(error, ContractBrokenError):
            missing = ", ".join(f"{table}.{c}" for c in error.columns)
        elif error is None or isinstance(error, MassDeleteError):
            missing = ""  # the columns were compared before anything was read
        if missing is not None:
            md = {"missing": dg.MetadataValue.text(missing or "none")}
            if missing:
                md["message"] = dg.MetadataValue.text(str(error))
            results.append((CONTRACT_IN_SOURCE, not missing, md))
    selected = context.selected_asset_check_keys
    return [
        dg.AssetCheckResult(
            asset_key=key,
            check_name=name,
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=md,
        )
        for name, passed, md in results
        if dg.AssetCheckKey(key, name) in selected
    ]


def _spec(plan: TablePlan, kinds: set[str]) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=asset_key(plan.name),
        group_name=GROUP,
        kinds=kinds,
        description=_describe(plan),
        skippable=True,
        metadata={
            "source_table": plan.name,
            "mode": plan.mode,
            "primary_key": ", ".join(plan.primary_key),
            "cursor": plan.cursor or "",
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn(c.name, c.duck_type, description=f"source: {c.source_type}")
                    for c in plan.columns
                ]
            ),
        },
        tags={"mealytics/layer": "raw"},
    )


def build_raw_assets(
    source_url: str,
    *,
    selection: TableSelection | None = None,
    plans: list[TablePlan] | None = None,
    lake: bool = False,
) -> list[dg.AssetsDefinition]:
    """The raw assets for the tables of the source at `source_url` (reflected now).

    The run itself uses the `source` and `warehouse` resources (`SourceDatabase`,
    `Warehouse`); `source_url` only decides which assets exist.
    """
    plans = plans if plans is not None else discover(source_url, selection)
    if not plans:
        return []
    dialect = plans[0].dialect
    kinds = {"duckdb", _KINDS.get(dialect, dialect)}

    @dg.multi_asset(
        name="raw_tables",
        specs=[_spec(p, kinds) for p in plans],
        check_specs=_check_specs(plans)
        + (lake_check_specs(plans, asset_key) if lake else []),
        can_subset=True,
    )
    def raw_tables(
        context: dg.AssetExecutionContext,
        config: RawExtractConfig,
        source: SourceDatabase,
        warehouse: Warehouse,
    ):
        """Copy the selected source tables into DuckDB schema `raw`, incrementally."""
        with secrets.redacted_errors():  # what Dagster stores of a failure: no password
            yield from _extract(context, config, source, warehouse, selection)

    return [raw_tables]


def _extract(context, config, source, warehouse, selection):
    """The raw step's work: each selected table extracted, its result and guards yielded."""
    tables = sorted(key.path[-1] for key in context.selected_asset_keys)
    src = source.source()
    retry = RetryPolicy(config.retries, config.retry_pause_s, log=context.log.warning)
    failures: dict[str, str] = {}
    try:
        plans = run_plans(context.run.run_id, src, selection, tables, retry)
        for outcome in extract_tables(
            src,
            warehouse.path,
            plans,
            _run_options(context, config, source),
            tables=tables,
            retry=retry,
            memory_limit=warehouse.memory_limit,
        ):
            if isinstance(outcome, TableFailure):
                context.log.error(f"raw.{outcome.table} failed: {outcome.error}")
                failures[outcome.table] = outcome.message
            else:
                yield _materialization(context, outcome, src.url)
            yield from _guard_results(context, outcome)
        if warehouse.lake:
            loaded = [t for t in tables if t not in failures]
            yield from write_lake(
                context, warehouse.path, warehouse.lake, {p.name: p for p in plans}, loaded,
                full=config.full_refresh, asset_key=asset_key,
            )
    except SourceUnavailableError as exc:
        raise dg.Failure(description=secrets.redact(str(exc))) from exc
    finally:
        src.dispose()
    if failures:
        raise _failure(failures)


def _run_options(context, config: RawExtractConfig, source: SourceDatabase) -> ExtractOptions:
    """The run's extraction options: its config over the source's settings."""
    options = config.options(
        context.run.run_id, source.content_check_every_minutes, source.max_delete_pct
    )
    return replace(
        options,
        change_cursor=source.change_cursor,
        change_log_max_share=source.change_log_max_pct / 100,
    )


def _failure(failures: dict[str, str]) -> dg.Failure:
    """The step's failure, naming each table that did not load and why."""
    return dg.Failure(
        description=secrets.redact(
            "raw extraction failed for "
            + "; ".join(f"{t}: {m}" for t, m in sorted(failures.items()))
        ),
        metadata={"failed_tables": dg.MetadataValue.text(", ".join(sorted(failures)))},
    )


def run_plans(
    run_id: str,
    src: Source,
    selection: TableSelection | None,
    tables: list[str],
    retry: RetryPolicy,
) -> list[TablePlan]:
    """The plans of `tables` for run `run_id`: those reflected while the definitions were
    built just before (once), else reflected now; kept for the run's checks."""
    plans = PLANS.take(source_key(src.url, selection))
    if plans is None:
        plans = retry.call("the source", lambda _: src.plans(selection, tables=tables))
    plans = [p for p in plans if p.name in set(tables)]
    PLANS.keep(run_id, plans)
    return plans


def _materialization(context, result: TableResult, source_url) -> dg.MaterializeResult:
    if result.columns_dropped:
        context.log.warning(
            f"raw.{result.table}: columns gone from the source, kept in raw (NULL from "
            f"now on): {', '.join(result.columns_dropped)}"
        )
    return dg.MaterializeResult(
        asset_key=asset_key(result.table),
        metadata=secrets.redact_metadata(_metadata(result, source_url)),
    )
