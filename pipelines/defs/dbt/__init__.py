"""The dbt project as Dagster assets: staging, intermediate and marts below the raw layer."""

from pipelines.defs.dbt.assets import (
    DBT_ASSETS_NAME,
    DbtBuildConfig,
    MealyticsDbtTranslator,
    build_dbt_assets,
    dbt_resource,
)
from pipelines.defs.dbt.project import dbt_project, manifest_is_stale

__all__ = [
    "DBT_ASSETS_NAME",
    "DbtBuildConfig",
    "MealyticsDbtTranslator",
    "build_dbt_assets",
    "dbt_project",
    "dbt_resource",
    "manifest_is_stale",
]
