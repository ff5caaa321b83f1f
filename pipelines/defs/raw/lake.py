"""The lake on the spark target: raw's tables as Parquet (`pipelines.lake`), written by the
extraction step right after the tables it loaded, so the asset graph is the same on both
targets (raw/* → dbt → publish); only the spark target writes the lake and checks it.

`lake_matches_raw` (one check per raw asset, ERROR: a failure refuses publication): the
table's Parquet files hold raw's rows, compared by row count and a content hash (the sum of
DuckDB's hash of every row: a multiset's), after the write.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import dagster as dg

from pipelines import lake
from pipelines.extract import TablePlan

LAKE_MATCHES_RAW = "lake_matches_raw"


def lake_check_specs(plans: Iterable[TablePlan], asset_key) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            LAKE_MATCHES_RAW,
            asset=asset_key(p.name),
            description=f"The lake's Parquet files of raw.{p.name} (MEALYTICS_LAKE/raw/"
            f"{p.name}/, what Spark reads) hold exactly raw's rows: row counts and a content "
            "hash equal (spark target only).",
        )
        for p in plans
    ]


def write_lake(
    context,
    warehouse_path: str,
    lake_folder: str,
    plans: Mapping[str, TablePlan],
    tables: list[str],
    *,
    full: bool,
    asset_key,
) -> Iterable[dg.AssetCheckResult]:
    """Write the lake for `tables` (the ones the step loaded), then check each; the checks'
    results (those the run selected)."""
    began = time.perf_counter()
    keys = {t: list(plans[t].primary_key) if t in plans else [] for t in tables}
    done = lake.write(warehouse_path, lake_folder, keys=keys, tables=tables, full=full)
    modes = {}
    for result in done.values():
        modes[result.mode] = modes.get(result.mode, 0) + 1
    context.log.info(
        f"lake {lake_folder}: {len(done)} tables ({modes}), "
        f"{sum(r.files_written for r in done.values())} files written, "
        f"{sum(r.files_removed for r in done.values())} removed, "
        f"{time.perf_counter() - began:.1f} s"
    )
    checks = lake.verify(warehouse_path, lake_folder, tables=list(done))
    stale = sorted(t for t, c in checks.items() if not c.equal)
    if stale:
        # Changes the log no longer holds (pruned by a DuckDB-target build while the lake was
        # not written): those tables are written whole, and checked again.
        context.log.warning(f"lake differs from raw for {', '.join(stale)}: written whole")
        redone = lake.write(warehouse_path, lake_folder, keys=keys, tables=stale, full=True)
        for result in redone.values():
            result.mode, result.reason = "repaired", "content differed from raw's"
        done.update(redone)
        checks.update(lake.verify(warehouse_path, lake_folder, tables=stale))
    selected = context.selected_asset_check_keys
    for table, check in checks.items():
        key = asset_key(table)
        if dg.AssetCheckKey(key, LAKE_MATCHES_RAW) not in selected:
            continue
        write = done[table]
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=LAKE_MATCHES_RAW,
            passed=check.equal,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "raw_rows": check.raw_rows,
                "lake_rows": check.lake_rows,
                "content_hash_equal": check.raw_hash == check.lake_hash,
                "write": write.mode,
                "why_whole": write.reason,
                "buckets_written": write.buckets_written,
                "files_written": write.files_written,
                "files_removed": write.files_removed,
                "change_log_seq": write.seq if write.seq is not None else -1,
            },
        )
