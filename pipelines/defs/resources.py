"""Dagster resources: the operational source and the DuckDB warehouse, from the environment.

Nothing is read at import time: `default_resources()` asks `pipelines.settings` when the
Definitions are built, and `dg.EnvVar` can be passed instead for deployments.
"""

from __future__ import annotations

import dagster as dg

from pipelines import settings
from pipelines.extract import Source


class SourceDatabase(dg.ConfigurableResource):
    """The operational database, read-only (SQLAlchemy URL; `MEALYTICS_SOURCE_URL`)."""

    url: str
    #: Rows per Arrow batch: bounds extraction memory (times the queue depth).
    batch_rows: int = 65_536
    #: "auto" (ADBC for SQLite and PostgreSQL), "adbc" or "sqlalchemy".
    reader: str = "auto"

    def source(self) -> Source:
        return Source(self.url, batch_rows=self.batch_rows, reader=self.reader)

    @property
    def masked_url(self) -> str:
        return settings.mask_url(self.url)


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file (`MEALYTICS_WAREHOUSE`)."""

    path: str
    #: DuckDB memory_limit while extracting (e.g. "1GB"); None keeps DuckDB's 80 % of RAM.
    memory_limit: str | None = None


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """{"source", "warehouse"} from the environment (or `.env`), read now."""
    settings.load_dotenv_once()
    return {
        "source": SourceDatabase(url=settings.source_url()),
        "warehouse": Warehouse(path=str(settings.warehouse_path())),
    }
