"""Settings from the environment (or a `.env` file), read when asked, never at import time."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

DEFAULT_SOURCE_PATH = Path("data") / "operational.db"
DEFAULT_WAREHOUSE_PATH = Path("data") / "warehouse.duckdb"


def load_dotenv_once() -> None:
    """Load `.env` from the working directory; variables already set win."""
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)


def source_url() -> str:
    """`MEALYTICS_SOURCE_URL`, by default the demo SQLite file `data/operational.db`."""
    return os.environ.get("MEALYTICS_SOURCE_URL") or f"sqlite:///{DEFAULT_SOURCE_PATH}"


def warehouse_path() -> Path:
    """`MEALYTICS_WAREHOUSE`, by default `data/warehouse.duckdb`."""
    return Path(os.environ.get("MEALYTICS_WAREHOUSE") or DEFAULT_WAREHOUSE_PATH)


def mask_url(url: str | sa.URL) -> str:
    """The URL with its password hidden, safe for logs and metadata."""
    try:
        parsed = sa.make_url(url) if isinstance(url, str) else url
    except sa.exc.ArgumentError:
        return "<unparsable URL>"
    return parsed.render_as_string(hide_password=True)
