"""The `raw` assets: one per source table, generated from the source's reflected tables.

Every table is an asset `raw/<table>` (group `raw`, kinds duckdb + the source dialect),
matching dbt's `source('raw', '<table>')`. They are specs of one subsettable multi-asset
because a DuckDB file has a single writer: the tables of a run load one after another
through one connection, each in its own transaction (`pipelines.extract`). A table that
fails (schema drift, a vanished table) does not stop the others; the step then fails,
naming it.
"""

import datetime as dt
import logging

import dagster as dg
import sqlalchemy as sa

from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.extract import (
    ExtractOptions,
    Source,
    SourceUnavailableError,
    TablePlan,
    TableResult,
    TableSelection,
    extract_table,
)
from pipelines.extract import warehouse as wh
from pipelines.extract.retry import call_with_retries
from pipelines.settings import mask_url

log = logging.getLogger(__name__)

GROUP = "raw"
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
    #: Source faults that pass (unreachable, connection dropped, lock timeout, SQLite
    #: "database is locked"): retries per table, the first after `retry_pause_s`, doubling.
    retries: int = 3
    retry_pause_s: float = 1.0

    def options(self, run_id: str | None = None) -> ExtractOptions:
        every = self.delete_check_every_minutes
        return ExtractOptions(
            full_refresh=self.full_refresh,
            lookback=dt.timedelta(minutes=self.lookback_minutes),
            delete_check_every=None if every < 0 else dt.timedelta(minutes=every),
            delete_probe=self.delete_probe,
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
            return source.plans(selection)
        finally:
            source.dispose()
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
        "duration_s": dg.MetadataValue.float(round(result.duration_s, 3)),
        "rows_per_s": dg.MetadataValue.float(round(result.rows_per_s, 1)),
        "source": dg.MetadataValue.text(mask_url(source_url)),
    }
    for name in ("columns_added", "columns_dropped", "columns_widened"):
        if getattr(result, name):
            md[name] = dg.MetadataValue.text(", ".join(getattr(result, name)))
    return md


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
    specs = [
        dg.AssetSpec(
            key=asset_key(p.name),
            group_name=GROUP,
            kinds=kinds,
            description=_describe(p),
            skippable=True,
            metadata={
                "source_table": p.name,
                "mode": p.mode,
                "primary_key": ", ".join(p.primary_key),
                "cursor": p.cursor or "",
                "dagster/column_schema": dg.TableSchema(
                    columns=[
                        dg.TableColumn(c.name, c.duck_type, description=f"source: {c.source_type}")
                        for c in p.columns
                    ]
                ),
            },
            tags={"mealytics/layer": "raw"},
        )
        for p in plans
    ]

    @dg.multi_asset(name="raw_tables", specs=specs, can_subset=True)
    def raw_tables(
        context: dg.AssetExecutionContext,
        config: RawExtractConfig,
        source: SourceDatabase,
        warehouse: Warehouse,
    ):
        """Copy the selected source tables into DuckDB schema `raw`, incrementally."""
        tables = sorted(key.path[-1] for key in context.selected_asset_keys)
        src = source.source()
        retry = _retrying(context, config)
        try:
            current = {
                p.name: p
                for p in retry("the source", lambda _: src.plans(selection, tables=tables))
            }
        except SourceUnavailableError as exc:
            raise dg.Failure(description=str(exc)) from exc
        options = config.options(run_id=context.run.run_id)
        failures: dict[str, str] = {}
        try:
            with src.connected():
                yield from _extract_tables(
                    context,
                    src,
                    current,
                    tables,
                    options,
                    warehouse,
                    failures,
                    retry=retry,
                    fresh_source=source.source,
                )
        except SourceUnavailableError as exc:
            raise dg.Failure(description=str(exc)) from exc
        finally:
            src.dispose()
        if failures:
            raise dg.Failure(
                description="raw extraction failed for "
                + "; ".join(f"{t}: {m}" for t, m in sorted(failures.items())),
                metadata={"failed_tables": dg.MetadataValue.text(", ".join(sorted(failures)))},
            )

    return [raw_tables]


def _retrying(context, config: RawExtractConfig):
    """`retry(what, attempt)`: call_with_retries with the run's settings, logging each retry."""

    def retry(what: str, attempt):
        def log_retry(n: int, pause: float, exc: BaseException) -> None:
            context.log.warning(
                f"{what}: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}; "
                f"retry {n} of {config.retries} in {pause:g} s"
            )

        return call_with_retries(
            attempt,
            retries=config.retries,
            first_pause_s=config.retry_pause_s,
            on_retry=log_retry,
        )

    return retry


def _extract_tables(
    context, src, current, tables, options, warehouse, failures, *, retry=None, fresh_source=None
):
    """Load each table in turn; a failure is recorded and the next table goes on.

    A table whose source fault passes is retried (`retry`), each retry on a new connection
    (`fresh_source`): the shared one may be what the server dropped.
    """
    con = wh.connect(warehouse.path, memory_limit=warehouse.memory_limit)
    fresh = None

    def attempt(plan, n):
        nonlocal fresh
        if n and fresh_source is not None:
            fresh = fresh or fresh_source()
        with (fresh if n and fresh is not None else src).session() as session:
            return extract_table(con, session, plan, options)

    try:
        for table in tables:
            plan = current.get(table)
            if plan is None:
                failures[table] = f"table {table!r} is no longer in the source"
                continue
            try:
                if retry is None:
                    result = attempt(plan, 0)
                else:
                    result = retry(f"raw.{table}", lambda n, plan=plan: attempt(plan, n))
            except Exception as exc:  # one table's failure must not stop the others
                context.log.error(f"raw.{table} failed: {exc}")
                failures[table] = f"{type(exc).__name__}: {exc}"
                continue
            if result.columns_dropped:
                context.log.warning(
                    f"raw.{table}: columns gone from the source, kept in raw (NULL from "
                    f"now on): {', '.join(result.columns_dropped)}"
                )
            yield dg.MaterializeResult(
                asset_key=asset_key(table), metadata=_metadata(result, src.url)
            )
    finally:
        con.close()
        if fresh is not None:
            fresh.dispose()
