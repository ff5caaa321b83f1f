"""Publishing after each run: `publish/parquet` (every mart as a Parquet file),
`publish/dashboard` (the static HTML dashboard) and `publish/warehouse` (a complete copy of
the warehouse for readers, swapped in atomically), all downstream of every mart.

They are thin wrappers around `pipelines.publish`; the files land in the `warehouse`
resource's publish folder: beside the warehouse (by default `data/parquet/` and
`data/dashboard.html`), or under `MEALYTICS_PUBLISH_DIR`.
Both only read the warehouse, after dbt has released its write lock.
"""

import time
from collections.abc import Sequence

import dagster as dg

from pipelines.defs.resources import Warehouse
from pipelines.publish import export_parquet, write_dashboard
from pipelines.publish.warehouse import publish_warehouse

GROUP = "publish"
PARQUET_KEY = dg.AssetKey([GROUP, "parquet"])
DASHBOARD_KEY = dg.AssetKey([GROUP, "dashboard"])
WAREHOUSE_KEY = dg.AssetKey([GROUP, "warehouse"])


def build_publish_assets(marts: Sequence[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    """The publishing assets, each depending on every mart in `marts`."""
    deps = list(marts)
    return [_parquet_asset(deps), _dashboard_asset(deps), _warehouse_copy_asset(deps)]


def _parquet_asset(deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(key=PARQUET_KEY, deps=deps, group_name=GROUP, kinds={"parquet", "duckdb"})
    def publish_parquet(context: dg.AssetExecutionContext, warehouse: Warehouse):
        """Every table of schema `marts` as `<publish dir>/parquet/<mart>.parquet`, each file
        written under a temporary name and renamed over the old one, so readers never see a
        half-written file."""
        began = time.perf_counter()
        out_dir = warehouse.publish_folder / "parquet"
        rows = export_parquet(warehouse.path, out_dir)
        context.log.info(f"{len(rows)} marts written to {out_dir}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(out_dir)),
                "marts": len(rows),
                "dagster/row_count": sum(rows.values()),
                "rows_per_mart": dg.MetadataValue.json(rows),
                "duration_s": round(time.perf_counter() - began, 3),
            }
        )

    return publish_parquet


def _dashboard_asset(deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(key=DASHBOARD_KEY, deps=deps, group_name=GROUP, kinds={"html"})
    def publish_dashboard(context: dg.AssetExecutionContext, warehouse: Warehouse):
        """The static dashboard `<publish dir>/dashboard.html`: one self-contained page (data,
        styles and SVG charts inlined) with request 000's and 003's views, a period selector
        (day, week, month, year ending at as_of) and a website selector. Opens offline."""
        began = time.perf_counter()
        path = write_dashboard(warehouse.path, warehouse.publish_folder / "dashboard.html")
        context.log.info(f"dashboard written to {path}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "url": dg.MetadataValue.url(path.resolve().as_uri()),
                "size_bytes": path.stat().st_size,
                "duration_s": round(time.perf_counter() - began, 3),
            }
        )

    return publish_dashboard


def _warehouse_copy_asset(deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(key=WAREHOUSE_KEY, deps=deps, group_name=GROUP, kinds={"duckdb"})
    def publish_warehouse_copy(context: dg.AssetExecutionContext, warehouse: Warehouse):
        """The warehouse as readers should open it: `<publish dir>/published.duckdb` (or
        `MEALYTICS_PUBLISHED`), a checkpointed copy of the build file with a manifest
        (`publish.manifest`: rows and money sums per mart), fsynced, owner-only and renamed
        over the previous copy. Readers holding the old copy keep a complete old version;
        new readers get this one. The run never waits for readers."""
        began = time.perf_counter()
        target = warehouse.published_file
        info = publish_warehouse(warehouse.path, target)
        context.log.info(f"warehouse published to {target}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(info["path"]),
                "marts": info["marts"],
                "size_bytes": info["bytes"],
                "duration_s": round(time.perf_counter() - began, 3),
            }
        )

    return publish_warehouse_copy
