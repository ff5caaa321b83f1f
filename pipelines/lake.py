"""The lake: the raw layer as Parquet files, which Spark reads natively (issue 19).

`$MEALYTICS_LAKE/raw/<table>/` holds Parquet files whose union is exactly the DuckDB
warehouse's `raw.<table>` (same columns and types: DECIMAL as Parquet decimal, TIMESTAMPTZ
as a UTC-adjusted Parquet TIMESTAMP), for every table dbt's `source('raw', …)` names
(dbt_project/models/staging/_sources.yml). dbt on the `spark` target reads them there
(dbt_project/macros/spark/lake.sql).

`export_full` is the plain full export: every table written whole. The incremental writer
(only the files holding changed keys rewritten) replaces or extends it (spark-io).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from pipelines import duck

SOURCES_YML = (
    Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "staging" / "_sources.yml"
)


def source_tables() -> list[str]:
    """The raw tables dbt's source `raw` names, in the order _sources.yml lists them."""
    document = yaml.safe_load(SOURCES_YML.read_text())
    (raw,) = [source for source in document["sources"] if source["name"] == "raw"]
    return [table["name"] for table in raw["tables"]]


def export_full(warehouse: str | os.PathLike, lake: str | os.PathLike) -> dict[str, int]:
    """Write every source table of `warehouse`'s raw schema to `lake`/raw/<table>/part-0.parquet,
    replacing what the folder held; returns the rows written per table.

    Each table is written to a temporary name first (`_part-0.parquet.tmp`, a name Spark
    never reads) and renamed, and any other file of the folder removed afterwards, so a
    reader sees the old or the new file."""
    raw = Path(lake) / "raw"
    counts: dict[str, int] = {}
    con = duck.connect(warehouse, read_only=True)
    try:
        for table in source_tables():
            folder = raw / table
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / "_part-0.parquet.tmp"
            con.execute(
                f"copy (select * from raw.\"{table}\") to '{temporary}' (format parquet)"
            )
            os.replace(temporary, folder / "part-0.parquet")
            for other in folder.iterdir():
                if other.name != "part-0.parquet":
                    shutil.rmtree(other) if other.is_dir() else other.unlink()
            (count,) = con.execute(f'select count(*) from raw."{table}"').fetchone()
            counts[table] = int(count)
    finally:
        con.close()
    return counts
