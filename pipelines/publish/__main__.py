"""`python -m pipelines.publish`: write the dashboard and the Parquet export from an existing
warehouse without a run (the `publish/*` assets do the same after every run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines import settings
from pipelines.publish import export_parquet, write_dashboard


def main(argv: list[str] | None = None) -> int:
    settings.load_dotenv_once()
    parser = argparse.ArgumentParser(prog="python -m pipelines.publish", description=__doc__)
    parser.add_argument("--warehouse", type=Path, default=None,
                        help="DuckDB file (default: MEALYTICS_WAREHOUSE or data/warehouse.duckdb)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the warehouse's folder)")
    parser.add_argument("--no-parquet", action="store_true", help="only the dashboard")
    args = parser.parse_args(argv)
    try:
        warehouse = args.warehouse or settings.warehouse_path()
    except settings.SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not warehouse.exists():
        print(f"no warehouse at {warehouse}: run `mealytics run` first", file=sys.stderr)
        return 1
    out = args.out or warehouse.resolve().parent
    try:
        page = write_dashboard(warehouse, out / "dashboard.html")
        print(f"dashboard: {page}")
        if not args.no_parquet:
            rows = export_parquet(warehouse, out / "parquet")
            print(f"parquet: {len(rows)} marts in {out / 'parquet'}")
    except LookupError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
