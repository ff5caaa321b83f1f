"""The published catalog as the API reads it: the current version, followed without a restart.

Every request resolves `publish/current` (one `readlink`) and reads through a cursor on
THAT version's own `published.duckdb` (`publish/versions/<id>/published.duckdb`, not the
`published.duckdb` symlink), whose views name that version's Parquet files by absolute
path. So:

- a new publication is served from the next request on, with no restart;
- a request never mixes versions: it keeps its version's cursor to the end, even when a
  publication switches `current` meanwhile;
- a version stays on disk while the API reads it: the API holds its `published.duckdb`
  open, and publishing prunes no version whose file a process holds
  (`pipelines/publish/holders.py`). The connection to a version that is no longer current
  is closed when its last request ends, so the next publication can prune it.

One read-only connection per version (extension autoloading off: `pipelines.duck`), a
cursor per request (DuckDB's cursors are independent connections to the same database,
safe to use from the server's worker threads).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines import duck
from pipelines.errors import MealyticsError
from pipelines.publish import version as versions

#: The version name of a catalog published before versioned publishing (a regular file).
UNVERSIONED = "unversioned"
#: How often a request tries again when the version it resolved vanished before it opened it
#: (two publications in a row pruned it): each try resolves `current` afresh.
OPEN_TRIES = 3


class NotPublishedError(MealyticsError):
    """Nothing is published yet, or the published catalog cannot be opened."""


@dataclass(frozen=True)
class Reading:
    """One request's view of the marts: the version it reads, and its cursor."""

    version: str
    con: duckdb.DuckDBPyConnection


class Catalog:
    """The published versions this process has open, and how many requests use each."""

    def __init__(self, publish_folder: str | Path, published_file: str | Path) -> None:
        self.publish_folder = Path(publish_folder)
        self.published_file = Path(published_file)
        self._lock = threading.Lock()
        self._open: dict[str, duckdb.DuckDBPyConnection] = {}
        self._users: dict[str, int] = {}
        self._current: str | None = None

    def resolve(self) -> tuple[str, Path]:
        """(version id, its catalog file) of what is published now."""
        folder = versions.current_version(self.publish_folder)
        if folder is not None:
            return folder.name, folder / versions.DATABASE
        if self.published_file.is_file():
            return UNVERSIONED, self.published_file
        raise NotPublishedError(
            f"nothing is published in {self.publish_folder}: run `mealytics run` first"
        )

    def _acquire(self) -> tuple[str, duckdb.DuckDBPyConnection]:
        for attempt in range(OPEN_TRIES):
            version, path = self.resolve()
            with self._lock:
                try:
                    con = self._open.get(version) or duck.connect(path, read_only=True)
                except duckdb.Error as exc:
                    if attempt + 1 < OPEN_TRIES:
                        continue
                    raise NotPublishedError(f"cannot open the published catalog: {exc}") from None
                self._open[version] = con
                self._users[version] = self._users.get(version, 0) + 1
                self._current = version
                self._close_unused()
                return version, con
        raise AssertionError("unreachable")

    def _release(self, version: str) -> None:
        with self._lock:
            self._users[version] -= 1
            self._close_unused()

    def _close_unused(self) -> None:
        """Close the versions no longer current that no request reads (lock held)."""
        for version in [v for v, n in self._users.items() if n == 0 and v != self._current]:
            self._open.pop(version).close()
            del self._users[version]

    @contextlib.contextmanager
    def reading(self) -> Iterator[Reading]:
        """A cursor on the current version, for one request."""
        version, con = self._acquire()
        try:
            cursor = con.cursor()
        except duckdb.Error:
            self._release(version)
            raise
        try:
            yield Reading(version, cursor)
        finally:
            cursor.close()
            self._release(version)

    def open_versions(self) -> list[str]:
        with self._lock:
            return sorted(self._open)

    def close(self) -> None:
        with self._lock:
            for con in self._open.values():
                con.close()
            self._open.clear()
            self._users.clear()
