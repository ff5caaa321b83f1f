"""Publishing the marts after each run (no Dagster import: the assets in
pipelines/defs/publish.py wrap these).

- `export_parquet(warehouse_path, out_dir)`: every mart as `<out_dir>/<mart>.parquet` (a
  large one as `<out_dir>/<mart>/business_month=YYYY-MM/`); publishing itself writes a
  version's files with `parquet.write_parquet` (`pipelines.publish.version`).
- `write_dashboard(warehouse_path, out_path)`: the self-contained static HTML dashboard.
"""

from pipelines.publish.dashboard import render, write_dashboard
from pipelines.publish.data import PERIODS, collect, collect_from
from pipelines.publish.parquet import export_parquet

__all__ = ["PERIODS", "collect", "collect_from", "export_parquet", "render", "write_dashboard"]
