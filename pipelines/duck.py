"""Every DuckDB connection the project opens: never loads nor downloads an extension.

DuckDB autoloads (and, by default, downloads from the network) a known extension the
moment a statement or a file needs it: opening a SQLite file as a database made it fetch
the `sqlite` extension (issue 15). The warehouse needs none beyond those built into the
library (parquet, json, icu), so every `duckdb.connect` of the project goes through
`connect`, with autoloading and autoinstalling off; dbt's profile sets the same two
settings, and tests/unit/test_duckdb_connections.py keeps every other call out.
"""

from __future__ import annotations

import os
from typing import Any

import duckdb

#: The settings that keep DuckDB from loading or installing extensions by itself.
NO_EXTENSIONS: dict[str, Any] = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
}


#: DuckDB's memory for the run's own work on the warehouse outside the extraction and dbt
#: (the raw checks, publishing): past it, DuckDB spills to disk. Without it DuckDB takes up
#: to 80 % of RAM: at 1M customers the raw checks peaked at 2.5 GiB and publishing at
#: 1.9 GiB; with 512MB, 0.8 GiB and no slower (benchmarks/README.md, "A whole run").
WORK_MEMORY_LIMIT = "512MB"


def connect(
    database: str | os.PathLike = ":memory:",
    *,
    read_only: bool = False,
    config: dict[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, with extension autoloading and autoinstalling off."""
    return duckdb.connect(
        str(database), read_only=read_only, config={**(config or {}), **NO_EXTENSIONS}
    )
