"""`python -m pipelines.publish`: publish an existing warehouse without a run, exactly as the
`publish/*` assets do after every run: the dashboard, the Parquet export and the published
DuckDB copy, in `MEALYTICS_PUBLISH_DIR` (else the warehouse's folder; `--out` overrides),
the copy at `MEALYTICS_PUBLISHED` if set. Every file is its owner's only (0600)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from pipelines import settings
from pipelines.errors import MealyticsError
from pipelines.publish import export_parquet, write_dashboard
from pipelines.publish.warehouse import publish_warehouse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines.publish", description=__doc__)
    parser.add_argument("--warehouse", type=Path, default=None,
                        help="DuckDB file (default: MEALYTICS_WAREHOUSE or data/warehouse.duckdb)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: MEALYTICS_PUBLISH_DIR, else the "
                             "warehouse's folder)")
    parser.add_argument("--no-parquet", action="store_true", help="no Parquet export")
    parser.add_argument("--no-warehouse", action="store_true",
                        help="no published DuckDB copy")
    return parser


def publish(config: settings.Settings, *, parquet: bool = True, copy: bool = True) -> None:
    """Write what the `publish/*` assets write, for `config`'s warehouse and folders."""
    out = config.publish_folder
    page = write_dashboard(config.warehouse, out / "dashboard.html")
    print(f"dashboard: {page}")
    if parquet:
        rows = export_parquet(config.warehouse, out / "parquet")
        print(f"parquet: {len(rows)} marts in {out / 'parquet'}")
    if copy:
        info = publish_warehouse(config.warehouse, config.published_file)
        print(f"published warehouse: {info['path']} ({info['marts']} marts)")


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
        publish(config, parquet=not args.no_parquet, copy=not args.no_warehouse)
    except (LookupError, MealyticsError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
