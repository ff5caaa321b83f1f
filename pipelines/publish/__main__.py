"""`python -m pipelines.publish`: publish an existing warehouse without a run, exactly as the
`publish` step does after every run: a new version of the Parquet files (only the changed
ones written), the published DuckDB catalog over them and the dashboard, switched in
together (`pipelines.publish.version`), in `MEALYTICS_PUBLISH_DIR` (else the warehouse's
folder; `--out` overrides), the catalog's reader path `MEALYTICS_PUBLISHED` if set. Every
file is its owner's only (0600). It checks nothing: it is for a warehouse its operator
vouches for (a run publishes only after its checks)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from pipelines import settings
from pipelines.errors import MealyticsError
from pipelines.publish.version import publish_version


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines.publish", description=__doc__)
    parser.add_argument("--warehouse", type=Path, default=None,
                        help="DuckDB file (default: MEALYTICS_WAREHOUSE or data/warehouse.duckdb)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: MEALYTICS_PUBLISH_DIR, else the "
                             "warehouse's folder)")
    return parser


def publish(config: settings.Settings) -> dict:
    """Publish what the `publish` step publishes, for `config`'s warehouse and folders."""
    out = config.publish_folder
    if config.on_spark:  # MEALYTICS_DBT_TARGET=spark: Spark's marts in the lake
        from pipelines.defs.dbt.project import DBT_PROJECT_DIR
        from pipelines.publish.spark import publish_from_spark

        info = publish_from_spark(
            config.lake_folder, out, published=config.published_file,
            project_dir=DBT_PROJECT_DIR,
        )
    else:
        info = publish_version(config.warehouse, out, published=config.published_file)
    print(f"version {info['version']}: {info['marts']} marts")
    print(f"published warehouse: {config.published_file}")
    print(
        f"parquet: {len(info['rows_per_mart'])} marts in {out / 'parquet'} "
        f"({len(info['parquet_written'])} files written, {len(info['parquet_linked'])} "
        "unchanged and linked)"
    )
    print(f"dashboard: {out / 'dashboard.html'}")
    return info


def main(argv: list[str] | None = None) -> int:
    # The published files hold customer-level marts: owner only, as a run writes them.
    settings.owner_only_files()
    args = _parser().parse_args(argv)
    try:
        config = settings.Settings.from_env()
        overrides = {"warehouse": args.warehouse, "publish_dir": args.out}
        config = dataclasses.replace(
            config, **{name: value for name, value in overrides.items() if value is not None}
        )
    except settings.SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not config.warehouse.exists():
        print(f"no warehouse at {config.warehouse}: run `mealytics run` first", file=sys.stderr)
        return 1
    try:
        publish(config)
    except (LookupError, MealyticsError, FileNotFoundError, RuntimeError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
