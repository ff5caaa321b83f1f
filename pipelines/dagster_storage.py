"""The Dagster instance's event log on SQLite, without a new engine per event.

Dagster's `SqliteEventLogStorage` opens a new SQLAlchemy engine for every event it stores
(`_connect`), so each event compiles its INSERT again and the run's shard is checked anew:
about 12 ms an event here. A run of this project stores about 1,800 events (135 assets, 700
checks, each planned then evaluated), which made 20 of the 36 seconds of a run with nothing
changed. This subclass keeps one engine and one open connection per shard for the process (no
transaction or lock is held between events, so other processes see every commit as before,
and the webserver's watchdog sees the same files change): the compiled statements are
cached, each shard is initialized once, and SQLite syncs to disk at its checkpoints rather than at
every commit (`synchronous = NORMAL`: an application crash loses nothing committed; a power
loss can lose the last events of a run, which is an event log, not the warehouse). What is
stored, and where, is Dagster's own: the same files and tables, so `make dev`'s webserver
(Dagster's own class) reads these runs as any other.

`mealytics run` uses it for the instance in `DAGSTER_HOME` (`pipelines.run.cli_instance`);
a run with nothing changed took 29.5 s with Dagster's class, 22.6 s with one engine per
shard and 18.3 s without a sync per commit (2,000 customers, a loaded machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

try:  # where Dagster keeps it (a constant of the module in 1.13)
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
        SQLITE_BUSY_TIMEOUT_SECONDS,
    )
except ImportError:  # pragma: no cover - another Dagster version
    SQLITE_BUSY_TIMEOUT_SECONDS = 30


def _no_sync_per_commit(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")


class LocalEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with one engine per shard per process (see the module)."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: dict[str, Engine] = {}
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                # one connection kept open per shard (this object's lock serializes its use
                # by any thread): no transaction or lock is held between events
                pool_size=1,
                max_overflow=10,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                              "check_same_thread": False},
            )
            event.listen(engine, "connect", _no_sync_per_commit)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._engines[shard] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()
