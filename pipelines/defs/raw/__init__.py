"""The raw layer in Dagster: extraction assets and source-vs-raw reconciliation checks."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.raw.assets import RawExtractConfig, asset_key, build_raw_assets, discover
from pipelines.defs.raw.checks import build_raw_checks
from pipelines.defs.raw.quality import build_quality_checks
from pipelines.extract import TableSelection

__all__ = [
    "RawExtractConfig",
    "asset_key",
    "build_raw_assets",
    "build_quality_checks",
    "build_raw_checks",
    "build_raw_defs",
    "discover",
    "raw_run_config",
]


def raw_run_config(*, full_refresh: bool = False, **options) -> dict:
    """Run config for the raw extraction op (`mealytics run --full-refresh`, schedules).

    `options` are further `RawExtractConfig` fields (lookback_minutes,
    delete_check_every_minutes, delete_probe).
    """
    config = RawExtractConfig(full_refresh=full_refresh, **options)
    return {"ops": {"raw_tables": {"config": config.model_dump()}}}


def build_raw_defs(
    source_url: str | None = None,
    *,
    selection: TableSelection | None = None,
    resources: dict | None = None,
) -> dg.Definitions:
    """Assets, checks and (by default, from the environment) resources of the raw layer.

    For `dg.Definitions.merge` in `pipelines/definitions.py`; the resources are
    `source` (`SourceDatabase`) and `warehouse` (`Warehouse`).
    """
    from pipelines.defs.resources import default_resources, source_url_of

    resources = resources if resources is not None else default_resources()
    url = source_url or source_url_of(resources["source"])
    warehouse = resources.get("warehouse")
    plans = discover(url, selection, getattr(warehouse, "path", None))
    return dg.Definitions(
        assets=build_raw_assets(
            url, selection=selection, plans=plans, lake=bool(getattr(warehouse, "lake", None))
        ),
        asset_checks=[*build_raw_checks(plans), *build_quality_checks(plans)],
        resources=resources,
    )
