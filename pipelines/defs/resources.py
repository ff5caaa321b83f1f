"""Dagster resources: the operational source and the DuckDB warehouse, from `Settings`.

Nothing is read at import time: `default_resources(settings)` builds them from the
`pipelines.settings.Settings` the Definitions were built with (read from the environment
once), and `dg.EnvVar` can be passed instead for deployments.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pydantic

from pipelines import settings
from pipelines.extract import Source
from pipelines.settings import SOURCE_URL_VAR, Settings
from pipelines.warehouse_lock import warehouse_lock


class SourceDatabase(dg.ConfigurableResource):
    """The operational database, read-only (SQLAlchemy URL; `MEALYTICS_SOURCE_URL`)."""

    url: str
    #: Rows per Arrow batch: bounds extraction memory (times the queue depth).
    batch_rows: int = 65_536
    #: "auto" (ADBC for SQLite and PostgreSQL), "adbc" or "sqlalchemy".
    reader: str = "auto"
    #: How often each table's full rows are reconciled with the source, in minutes
    #: (`MEALYTICS_CONTENT_CHECK_EVERY`): 0 = every run, -1 = never.
    content_check_every_minutes: int = 24 * 60
    #: How PostgreSQL's changed rows are found (`MEALYTICS_PG_CHANGE_CURSOR`): "xmin"
    #: (every committed change) or "updated_at"; other sources always use `updated_at`.
    change_cursor: str = "xmin"
    #: The mass-deletion guard's share in percent (`MEALYTICS_MAX_DELETE_SHARE`).
    max_delete_pct: float = 10.0
    #: The change log's share in percent (`MEALYTICS_CHANGE_LOG_MAX_SHARE`).
    change_log_max_pct: float = 20.0

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
    #: Seconds a run waits for another run's lock before failing
    #: (`MEALYTICS_WAREHOUSE_LOCK_TIMEOUT`).
    lock_timeout_s: float = settings.DEFAULT_LOCK_TIMEOUT_S
    #: Where the dashboard, Parquet and the published copy go (`MEALYTICS_PUBLISH_DIR`);
    #: None: the warehouse's folder.
    publish_dir: str | None = None
    #: The published copy readers open (`MEALYTICS_PUBLISHED`); None: `published.duckdb`
    #: in the publish folder.
    published: str | None = None
    #: The lake (`MEALYTICS_LAKE`, `pipelines.lake`) the extraction writes after raw on the
    #: spark target (`MEALYTICS_DBT_TARGET=spark`); None: not written (the duckdb target).
    lake: str | None = None

    @pydantic.field_validator("path")
    @classmethod
    def _not_a_schema_name(cls, path: str) -> str:
        """A file named like a schema (raw.duckdb) is refused when configured (an EnvVar's
        value: when the run starts)."""
        if not isinstance(path, dg.EnvVar):
            settings.check_duckdb_file(path, "MEALYTICS_WAREHOUSE")
        return path

    @property
    def publish_folder(self) -> Path:
        """`publish_dir`, else the warehouse's folder."""
        return Path(self.publish_dir) if self.publish_dir else Path(self.path).resolve().parent

    @property
    def published_file(self) -> Path:
        """`published`, else `published.duckdb` in the publish folder (`SettingsError` for
        a file named like a schema, which readers could not query)."""
        if self.published:
            return settings.check_duckdb_file(self.published, "MEALYTICS_PUBLISHED")
        return self.publish_folder / "published.duckdb"

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[Warehouse]:
        settings.check_duckdb_file(self.path, "MEALYTICS_WAREHOUSE")
        # Before the lock file and the warehouse exist: whatever built this run's
        # definitions, its files (and dbt's, a child process) are the owner's only.
        settings.owner_only_files()
        run = context.run
        owner = f"run {run.run_id}" if run is not None else None
        log = context.log.warning if context.log is not None else None
        with warehouse_lock(self.path, owner=owner, timeout_s=self.lock_timeout_s, log=log):
            yield self


def default_resources(config: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """{"source", "warehouse"} from `config` (default: the environment, or `.env`, read now).

    A source URL set in the environment stays a `dg.EnvVar`: the UI shows the variable's
    name, never its value (it may hold a password).
    """
    config = config or Settings.from_env()
    url = dg.EnvVar(SOURCE_URL_VAR) if config.source_url_from_env else config.source_url
    return {
        "source": SourceDatabase(
            url=url,
            content_check_every_minutes=_minutes(config.content_check_every),
            change_cursor=config.pg_change_cursor,
            max_delete_pct=config.max_delete_pct,
            change_log_max_pct=config.change_log_max_pct,
        ),
        "warehouse": Warehouse(
            path=str(config.warehouse),
            lock_timeout_s=config.lock_timeout_s,
            publish_dir=str(config.publish_dir) if config.publish_dir else None,
            published=str(config.published) if config.published else None,
            lake=str(config.lake_folder) if config.on_spark else None,
        ),
    }


def _minutes(every: dt.timedelta | None) -> int:
    return -1 if every is None else int(every.total_seconds() // 60)


def source_url_of(resource: SourceDatabase) -> str:
    """The resource's URL, resolving an `EnvVar` (needed before a run, to reflect)."""
    url = resource.url
    return url.get_value() if isinstance(url, dg.EnvVar) else url
