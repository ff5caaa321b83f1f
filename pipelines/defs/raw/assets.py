"""The `raw` assets: one per source table, generated from the source's reflected tables.

Every table is an asset `raw/<table>` (group `raw`, kinds duckdb + the source dialect),
matching dbt's `source('raw', '<table>')`. They are specs of one subsettable multi-asset
because a DuckDB file has a single writer: the tables of a run load one after another
through one connection, each in its own transaction. The asset is a thin wrapper around
the table loop (`pipelines.extract.extract_tables`, the same loop the tests and the
benchmarks run): a table that fails (schema drift, a vanished table) does not stop the
others; the step then fails, naming it.

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
from pipelines.defs.resources import SourceDatabase, Warehouse
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

    def options(self, run_id: str | None = None, content_minutes: int = 24 * 60) -> ExtractOptions:
        """The extraction's options; `content_minutes`: the source's content cadence, unless
        this run's config sets its own."""
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
        "`raw._deleted_rows`. One row per source row."
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


def discover(source_url: str, selection: TableSelection | None = None) -> list[TablePlan]:
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
        return plans
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

    @dg.multi_asset(name="raw_tables", specs=[_spec(p, kinds) for p in plans], can_subset=True)
    def raw_tables(
        context: dg.AssetExecutionContext,
        config: RawExtractConfig,
        source: SourceDatabase,
        warehouse: Warehouse,
    ):
        """Copy the selected source tables into DuckDB schema `raw`, incrementally."""
        with secrets.redacted_errors():  # what Dagster stores of a failure: no password
            yield from _extract(context, config, source, warehouse)

    def _extract(context, config, source, warehouse):
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
                replace(
                    config.options(context.run.run_id, source.content_check_every_minutes),
                    change_cursor=source.change_cursor,
                ),
                tables=tables,
                retry=retry,
                memory_limit=warehouse.memory_limit,
            ):
                if isinstance(outcome, TableFailure):
                    context.log.error(f"raw.{outcome.table} failed: {outcome.error}")
                    failures[outcome.table] = outcome.message
                else:
                    yield _materialization(context, outcome, src.url)
        except SourceUnavailableError as exc:
            raise dg.Failure(description=secrets.redact(str(exc))) from exc
        finally:
            src.dispose()
        if failures:
            raise _failure(failures)

    return [raw_tables]


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
