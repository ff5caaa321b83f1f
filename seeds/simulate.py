"""The activity simulator (placeholder until advance lands)."""

from __future__ import annotations

import sqlalchemy as sa

from seeds.db import make_engine, nonempty_tables
from seeds.errors import SourceError


def exists(url: str) -> bool:
    """True when the source at `url` holds data (any source table with a row)."""
    from pathlib import Path

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return False
    engine = make_engine(url, create=False)
    try:
        with engine.connect() as conn:
            return bool(nonempty_tables(conn))
    finally:
        engine.dispose()


def advance(url: str, *, days: int = 1, progress: bool = True):
    raise SourceError("advance: not implemented yet")
