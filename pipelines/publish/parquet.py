"""Every mart as a Parquet file, for tools that read files rather than a DuckDB database."""

from __future__ import annotations

import os
from pathlib import Path

from pipelines import duck
from pipelines.publish import leftovers
from pipelines.publish.data import mart_tables


def export_parquet(warehouse_path: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, int]:
    """Write `<out_dir>/<mart>.parquet` for every table of schema marts; return rows per mart.

    Each file is written beside its final name and renamed over it, so a reader sees the
    previous file or the new one, never half a file. The warehouse is opened read-only.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    leftovers.sweep(out)
    rows: dict[str, int] = {}
    con = duck.connect(warehouse_path, read_only=True)
    try:
        for mart in mart_tables(con):
            final = out / f"{mart}.parquet"
            temporary = out / f".{mart}.parquet.{os.getpid()}.tmp"
            try:
                # A path cannot be a bound parameter of COPY; it is ours, quotes doubled.
                target = str(temporary).replace("'", "''")
                con.execute(
                    f"copy (select * from marts.\"{mart}\") to '{target}' "
                    "(format parquet, compression zstd)"
                )
                os.replace(temporary, final)
            finally:
                temporary.unlink(missing_ok=True)
            rows[mart] = con.execute(f'select count(*) from marts."{mart}"').fetchall()[0][0]
    finally:
        con.close()
    return rows
