"""Settings from the environment (or a `.env` file), read when asked, never at import time."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from pipelines.errors import SettingsError  # noqa: F401 (re-exported)

DEFAULT_SOURCE_PATH = Path("data") / "operational.db"
DEFAULT_WAREHOUSE_PATH = Path("data") / "warehouse.duckdb"

#: Schemas of the warehouse (and DuckDB's own). DuckDB names a file's database after the
#: file's stem, so in `raw.duckdb` the name `raw.orders` is ambiguous (database raw or
#: schema raw?) and every statement on it fails: such a file name is refused.
SCHEMA_NAMES = frozenset(
    {"raw", "staging", "intermediate", "marts", "publish", "information_schema", "pg_catalog"}
)


#: Bits every Mealytics process masks: files rw------- (0o600), folders rwx------ (0o700).
OWNER_ONLY_UMASK = 0o077


def owner_only_files() -> None:
    """From now on, every file and folder this process (and its children) creates is its
    owner's only: the warehouse, its WAL and spill files, the lock, Parquet, the dashboard,
    the published copy, dbt's target/ and logs/, Dagster's storage all hold customer data.

    Process-wide, and only ever tightened: bits already masked stay masked. Called by the
    CLI, by `build_definitions` (every process that loads the code location: `dagster dev`'s
    code server and run workers, `mealytics run`, tests) and by the `warehouse` resource
    when a run starts (whatever built the definitions).
    """
    os.umask(os.umask(OWNER_ONLY_UMASK) | OWNER_ONLY_UMASK)


def check_duckdb_file(path: str | os.PathLike, variable: str) -> Path:
    """`path`, unless its stem is a schema name of the warehouse (case-insensitive)."""
    path = Path(path)
    if path.stem.lower() in SCHEMA_NAMES:
        raise SettingsError(
            f"{variable}={path}: refused: DuckDB names the database after the file, and "
            f"{path.stem!r} is also a schema of the warehouse, so {path.stem}.<table> would "
            f"be ambiguous; use another name (e.g. {path.with_name('warehouse' + path.suffix)})"
        )
    return path


def load_dotenv_once() -> None:
    """Load `.env` from the working directory; variables already set win."""
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)


def source_url() -> str:
    """`MEALYTICS_SOURCE_URL`, by default the demo SQLite file `data/operational.db`."""
    return os.environ.get("MEALYTICS_SOURCE_URL") or f"sqlite:///{DEFAULT_SOURCE_PATH}"


def warehouse_path() -> Path:
    """`MEALYTICS_WAREHOUSE`, by default `data/warehouse.duckdb` (`SettingsError` if its
    name is a schema's)."""
    return check_duckdb_file(
        os.environ.get("MEALYTICS_WAREHOUSE") or DEFAULT_WAREHOUSE_PATH, "MEALYTICS_WAREHOUSE"
    )


def published_setting() -> Path | None:
    """`MEALYTICS_PUBLISHED` if set (`SettingsError` if its name is a schema's)."""
    configured = os.environ.get("MEALYTICS_PUBLISHED")
    return check_duckdb_file(configured, "MEALYTICS_PUBLISHED") if configured else None


def mask_url(url: str | sa.URL) -> str:
    """The URL with its password hidden, safe for logs and metadata."""
    try:
        parsed = sa.make_url(url) if isinstance(url, str) else url
    except sa.exc.ArgumentError:
        return "<unparsable URL>"
    return parsed.render_as_string(hide_password=True)
