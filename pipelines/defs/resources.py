"""Dagster resources: the operational source and the DuckDB warehouse, from the environment.

Nothing is read at import time: `default_resources()` asks `pipelines.settings` when the
Definitions are built, and `dg.EnvVar` can be passed instead for deployments.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import dagster as dg
import pydantic

from pipelines import settings
from pipelines.extract import Source
from pipelines.warehouse_lock import timeout_from_env, warehouse_lock

SOURCE_URL_VAR = "MEALYTICS_SOURCE_URL"


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
        return settings.mask_url(source_url_of(self))


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file (`MEALYTICS_WAREHOUSE`).

    A run that uses it holds the warehouse's lock from the start of the run to its end
    (`pipelines.warehouse_lock`): every step that reads or writes the file (extraction, its
    checks, dbt, publishing) asks for this resource, so no two runs ever overlap on it, be
    they queued by `dagster dev` or started by `mealytics run`.
    """

    path: str
    #: DuckDB memory_limit while extracting; None keeps DuckDB's 80 % of RAM. Capped by
    #: default: at 1M customers (61.6M rows) a full copy peaked at 1,899 MiB uncapped and
    #: 516 MiB with 256MB, for 7 % more time (benchmarks/README.md, Extraction).
    memory_limit: str | None = "256MB"
    #: Seconds a run waits for another run's lock before failing; None: the environment's
    #: `MEALYTICS_WAREHOUSE_LOCK_TIMEOUT`, else one hour.
    lock_timeout_s: float | None = None

    @pydantic.field_validator("path")
    @classmethod
    def _not_a_schema_name(cls, path: str) -> str:
        """A file named like a schema (raw.duckdb) is refused when configured (an EnvVar's
        value: when the run starts)."""
        if not isinstance(path, dg.EnvVar):
            settings.check_duckdb_file(path, "MEALYTICS_WAREHOUSE")
        return path

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[Warehouse]:
        settings.check_duckdb_file(self.path, "MEALYTICS_WAREHOUSE")
        # Before the lock file and the warehouse exist: whatever built this run's
        # definitions, its files (and dbt's, a child process) are the owner's only.
        settings.owner_only_files()
        run = context.run
        owner = f"run {run.run_id}" if run is not None else None
        log = context.log.warning if context.log is not None else None
        timeout = self.lock_timeout_s if self.lock_timeout_s is not None else timeout_from_env()
        with warehouse_lock(self.path, owner=owner, timeout_s=timeout, log=log):
            yield self


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """{"source", "warehouse"} from the environment (or `.env`), read now.

    A source URL set in the environment stays a `dg.EnvVar`: the UI shows the variable's
    name, never its value (it may hold a password).
    """
    settings.load_dotenv_once()
    url = dg.EnvVar(SOURCE_URL_VAR) if os.environ.get(SOURCE_URL_VAR) else settings.source_url()
    return {
        "source": SourceDatabase(url=url),
        "warehouse": Warehouse(path=str(settings.warehouse_path())),
    }


def source_url_of(resource: SourceDatabase) -> str:
    """The resource's URL, resolving an `EnvVar` (needed before a run, to reflect)."""
    url = resource.url
    return url.get_value() if isinstance(url, dg.EnvVar) else url
