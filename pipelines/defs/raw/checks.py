"""Reconciliation checks: does each raw table still agree with its source table?

Two properties per table, one check each: the row count, and the sum of every money
(DECIMAL) column. They compare the source as it is now with raw as the last run left
it, so on a busy source they can flag rows written since the run: severity WARN.

They use the plans the run's extraction used (`assets.PLANS`), so a run reflects the
source once; only checks run without their assets reflect the tables they check.
"""

from collections.abc import Iterable
from decimal import Decimal

import dagster as dg
import duckdb
import sqlalchemy as sa

from pipelines import duck
from pipelines.defs.raw.assets import PLANS, asset_key
from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.extract import Source, SourceUnavailableError, TablePlan
from pipelines.extract.plan import quote

ROW_COUNT = "row_count_matches_source"
MONEY_SUMS = "money_sums_match_source"


def source_money_sum(conn: sa.Connection, table: sa.Table, column: str, scale: int) -> Decimal:
    """Σ column in the source, exact: SQLite sums REALs, so it sums rounded units instead."""
    col = table.c[column]
    if conn.dialect.name == "sqlite":
        factor = 10**scale
        units = conn.execute(sa.select(sa.func.sum(sa.func.round(col * factor)))).scalar()
        return (Decimal(int(units or 0)) / factor).quantize(Decimal(1).scaleb(-scale))
    total = conn.execute(sa.select(sa.func.sum(col))).scalar()
    return Decimal(total or 0).quantize(Decimal(1).scaleb(-scale))


def reconcile(
    engine: sa.Engine, con: duckdb.DuckDBPyConnection, plan: TablePlan
) -> tuple[tuple[int, int], dict[str, tuple[Decimal, Decimal]]]:
    """((source rows, raw rows), {money column: (source Σ, raw Σ)})."""
    table = plan.table
    with engine.connect() as conn:
        src_rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        src_sums = {
            c: source_money_sum(conn, table, c, plan.column(c).scale or 0)
            for c in plan.money_columns
        }
    raw = f"raw.{quote(plan.name)}"
    raw_rows = con.execute(f"SELECT count(*) FROM {raw}").fetchall()[0][0]
    sums = {}
    for c, src_sum in src_sums.items():
        total = con.execute(f"SELECT sum({quote(c)}) FROM {raw}").fetchall()[0][0]
        exp = Decimal(1).scaleb(-(plan.column(c).scale or 0))
        sums[c] = (src_sum, Decimal(total or 0).quantize(exp))
    return (src_rows, raw_rows), sums


def _specs(plans: list[TablePlan]) -> list[dg.AssetCheckSpec]:
    specs = []
    for p in plans:
        specs.append(
            dg.AssetCheckSpec(
                ROW_COUNT,
                asset=asset_key(p.name),
                description=f"raw.{p.name} has as many rows as source table {p.name}.",
            )
        )
        if p.money_columns:
            specs.append(
                dg.AssetCheckSpec(
                    MONEY_SUMS,
                    asset=asset_key(p.name),
                    description=(
                        f"Σ of {', '.join(p.money_columns)} in raw.{p.name} equals the source's."
                    ),
                )
            )
    return specs


def check_plans(
    run_id: str, src: Source, tables: list[str], defined: dict[str, TablePlan]
) -> dict[str, TablePlan]:
    """The plans of `tables`: those the run's extraction used; the others reflected now
    (checks run without their assets), or as the definitions have them."""
    plans = PLANS.for_run(run_id)
    missing = [t for t in tables if t not in plans]
    if missing:
        try:
            plans |= {p.name: p for p in src.plans(tables=missing)}
        except SourceUnavailableError as exc:
            raise dg.Failure(description=str(exc)) from exc
    return {t: plans.get(t) or defined[t] for t in tables}


def _results(key: dg.AssetKey, selected, counts, sums) -> list[dg.AssetCheckResult]:
    (src_rows, raw_rows) = counts
    results = []
    if dg.AssetCheckKey(key, ROW_COUNT) in selected:
        results.append(
            dg.AssetCheckResult(
                asset_key=key,
                check_name=ROW_COUNT,
                passed=src_rows == raw_rows,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"source_rows": src_rows, "raw_rows": raw_rows},
            )
        )
    if dg.AssetCheckKey(key, MONEY_SUMS) in selected:
        results.append(
            dg.AssetCheckResult(
                asset_key=key,
                check_name=MONEY_SUMS,
                passed=all(a == b for a, b in sums.values()),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    f"{c}": dg.MetadataValue.text(f"source {a} / raw {b}")
                    for c, (a, b) in sums.items()
                },
            )
        )
    return results


def build_raw_checks(plans: Iterable[TablePlan]) -> list[dg.AssetChecksDefinition]:
    """Row-count and money-sum checks for the raw assets of `plans`."""
    plans = list(plans)
    if not plans:
        return []
    by_name = {p.name: p for p in plans}

    @dg.multi_asset_check(specs=_specs(plans), can_subset=True, name="raw_reconciliation")
    def raw_reconciliation(
        context: dg.AssetCheckExecutionContext, source: SourceDatabase, warehouse: Warehouse
    ):
        """Source vs raw: row counts and money sums, per table."""
        selected = context.selected_asset_check_keys
        tables = sorted({k.asset_key.path[-1] for k in selected})
        src = source.source()
        try:
            current = check_plans(context.run.run_id, src, tables, by_name)
            con = duck.connect(warehouse.path, read_only=True)
            try:
                for table in tables:
                    counts, sums = reconcile(src.engine, con, current[table])
                    yield from _results(asset_key(table), selected, counts, sums)
            finally:
                con.close()
        finally:
            src.dispose()

    return [raw_reconciliation]
