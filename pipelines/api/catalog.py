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
safe to use from the server's worker threads), opened only when the request runs a query
the cache does not hold.

A published version never changes, so the answer of a query to it is the same for as long
as the version lives: each version keeps the results of its recent queries (`QueryCache`:
keyed by the SQL text and its parameters, least recently used dropped beyond
`CACHE_ENTRIES` results or `CACHE_TOTAL_ROWS` rows in all, a result over `CACHE_ROWS`
rows or with mutable values not kept, queries
that read the clock or chance never kept), and drops them with its connection. Two
requests asking the same uncached query at once run it once (the second waits for the
first's result). Endpoints read through `Reading.con` as they would a DuckDB cursor
(`execute(sql, params)` then `fetchone` / `fetchall` / `fetchmany` / `description`).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines import duck
from pipelines.errors import MealyticsError
from pipelines.publish import version as versions

#: The version name of a catalog published before versioned publishing (a regular file).
UNVERSIONED = "unversioned"
#: How often a request tries again when the version it resolved vanished before it opened it
#: (two publications in a row pruned it): each try resolves `current` afresh.
OPEN_TRIES = 3
#: Query results kept per version (least recently used dropped first).
CACHE_ENTRIES = 512
#: The most rows a kept result may have (a larger one is read afresh each time).
CACHE_ROWS = 20_000
#: The most rows kept per version, all results together (least recently used dropped first).
CACHE_TOTAL_ROWS = 200_000
#: Queries whose answer is not the version's alone (the clock, chance): never kept.
_VOLATILE = re.compile(
    r"\b(now|current_date|current_time|current_timestamp|today|random|uuid|gen_random_uuid|"
    r"setseed|nextval|currval|get_current_time|get_current_timestamp)\b",
    re.IGNORECASE,
)
_READ = re.compile(r"^\s*(select|with|from|table|values)\b", re.IGNORECASE)
#: A DuckDB cursor's ways to read a result other than fetchone/fetchmany/fetchall.
_OTHER_RESULTS = frozenset({
    "df", "fetchdf", "fetch_df", "fetch_df_chunk", "fetchnumpy", "arrow", "fetch_arrow_table",
    "fetch_record_batch", "pl", "torch", "tf",
})


class NotPublishedError(MealyticsError):
    """Nothing is published yet, or the published catalog cannot be opened."""


@dataclass(frozen=True)
class Result:
    """A query's answer: the cursor's `description` and its rows."""

    description: list[tuple]
    rows: tuple[tuple, ...]


def _immutable(rows: list[tuple]) -> bool:
    return all(not isinstance(value, (list, dict, set, bytearray)) for row in rows for value in row)


class QueryCache:
    """One version's query results, bounded (least recently used out), thread-safe; the
    same uncached key asked by two threads at once is computed once."""

    def __init__(self, entries: int = CACHE_ENTRIES, max_rows: int = CACHE_ROWS,
                 total_rows: int = CACHE_TOTAL_ROWS) -> None:
        self.entries, self.max_rows, self.total_rows = entries, max_rows, total_rows
        self._rows = 0  # rows kept, all results together
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple, Result] = OrderedDict()
        self._running: dict[tuple, threading.Event] = {}
        self.hits = self.misses = 0

    @staticmethod
    def key(sql: str, params: Any) -> tuple | None:
        """The cache key of a query, or None when it must not be kept."""
        if not _READ.match(sql) or _VOLATILE.search(sql):
            return None
        if params is None:
            params = ()
        elif isinstance(params, dict):
            params = tuple(sorted(params.items()))
        else:
            params = tuple(params)
        try:
            hash(params)
        except TypeError:
            return None
        return (sql, tuple((type(p).__name__, p) for p in params) if params else ())

    def get(self, key: tuple, compute: Callable[[], Result]) -> Result:
        while True:
            with self._lock:
                found = self._results.get(key)
                if found is not None:
                    self._results.move_to_end(key)
                    self.hits += 1
                    return found
                running = self._running.get(key)
                if running is None:
                    running = self._running[key] = threading.Event()
                    self.misses += 1
                    break
            running.wait()  # another request computes it; then look again
            with self._lock:
                found = self._results.get(key)
                if found is not None:
                    self._results.move_to_end(key)
                    self.hits += 1
                    return found
                if key not in self._running:  # it failed or was not kept: compute it here
                    self.misses += 1
                    return compute()
        try:
            result = compute()
            if len(result.rows) <= self.max_rows and _immutable(result.rows):
                with self._lock:
                    if key not in self._results:
                        self._results[key] = result
                        self._rows += len(result.rows)
                    while len(self._results) > self.entries or self._rows > self.total_rows:
                        self._rows -= len(self._results.popitem(last=False)[1].rows)
            return result
        finally:
            with self._lock:
                self._running.pop(key).set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._results)


class CachedCursor:
    """One request's cursor on a version, read as a DuckDB cursor: `execute` returns the
    cursor, whose `fetchone` / `fetchmany` / `fetchall` / `description` then give the
    answer, from the version's cache when it holds it. The DuckDB cursor itself is opened
    on the first query the cache does not answer; anything else is passed to it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cache: QueryCache | None) -> None:
        self._con, self._cache = con, cache
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._result: Result | None = None
        self._position = 0
        self._last: tuple[str, Any] | None = None

    @property
    def cursor(self) -> duckdb.DuckDBPyConnection:
        if self._cursor is None:
            self._cursor = self._con.cursor()
        return self._cursor

    def _run(self, sql: str, params: Any) -> Result:
        cursor = self.cursor.execute(sql, params) if params is not None else \
            self.cursor.execute(sql)
        description = cursor.description or []
        return Result(description, tuple(cursor.fetchall()) if description else ())

    def execute(self, sql: str, params: Any = None) -> CachedCursor:
        key = None if self._cache is None else self._cache.key(sql, params)
        if key is None:
            self._result = self._run(sql, params)
        else:
            self._result = self._cache.get(key, lambda: self._run(sql, params))
        self._position = 0
        self._last = (sql, params)
        return self

    @property
    def description(self) -> list[tuple] | None:
        return None if self._result is None else self._result.description

    def fetchone(self) -> tuple | None:
        rows = self._result.rows if self._result is not None else ()
        if self._position >= len(rows):
            return None
        self._position += 1
        return rows[self._position - 1]

    def fetchmany(self, size: int = 1) -> list[tuple]:
        rows = self._result.rows if self._result is not None else ()
        chunk = list(rows[self._position:self._position + size])
        self._position += len(chunk)
        return chunk

    def fetchall(self) -> list[tuple]:
        rows = self._result.rows if self._result is not None else ()
        rest = list(rows[self._position:])
        self._position = len(rows)
        return rest

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def __getattr__(self, name: str) -> Any:
        """Anything else is the DuckDB cursor's own (sql(), table(), …). A result in another
        form (df(), arrow(), …) right after `execute` runs that query again on the cursor,
        uncached, so it sees the same answer."""
        if name in _OTHER_RESULTS and self._last is not None:
            sql, params = self._last
            self._last = None
            if params is None:
                self.cursor.execute(sql)
            else:
                self.cursor.execute(sql, params)
        return getattr(self.cursor, name)


@dataclass(frozen=True)
class Reading:
    """One request's view of the marts: the version it reads, and its cursor."""

    version: str
    con: CachedCursor


class Catalog:
    """The published versions this process has open, how many requests use each, and each
    one's query cache."""

    def __init__(
        self,
        publish_folder: str | Path,
        published_file: str | Path,
        cache_entries: int = CACHE_ENTRIES,
    ) -> None:
        self.publish_folder = Path(publish_folder)
        self.published_file = Path(published_file)
        self.cache_entries = cache_entries
        self._lock = threading.Lock()
        self._open: dict[str, duckdb.DuckDBPyConnection] = {}
        self._caches: dict[str, QueryCache] = {}
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

    def _acquire(self) -> tuple[str, duckdb.DuckDBPyConnection, QueryCache | None]:
        for attempt in range(OPEN_TRIES):
            version, path = self.resolve()
            with self._lock:
                try:
                    con = self._open.get(version) or duck.connect(path, read_only=True)
                except duckdb.Error as exc:
                    if attempt + 1 < OPEN_TRIES:
                        continue
                    raise NotPublishedError(f"cannot open the published catalog: {exc}") from None
                if version not in self._open:
                    self._open[version] = con
                    # the unversioned file may be rewritten in place: nothing is kept for it
                    if self.cache_entries and version != UNVERSIONED:
                        self._caches[version] = QueryCache(self.cache_entries)
                self._users[version] = self._users.get(version, 0) + 1
                self._current = version
                self._close_unused()
                return version, con, self._caches.get(version)
        raise AssertionError("unreachable")

    def _release(self, version: str) -> None:
        with self._lock:
            self._users[version] -= 1
            self._close_unused()

    def _close_unused(self) -> None:
        """Close the versions no longer current that no request reads, and drop their
        cached results (lock held)."""
        for version in [v for v, n in self._users.items() if n == 0 and v != self._current]:
            self._open.pop(version).close()
            self._caches.pop(version, None)
            del self._users[version]

    @contextlib.contextmanager
    def reading(self) -> Iterator[Reading]:
        """A cursor on the current version, for one request."""
        version, con, cache = self._acquire()
        cursor = CachedCursor(con, cache)
        try:
            yield Reading(version, cursor)
        finally:
            try:
                cursor.close()
            finally:
                self._release(version)

    def open_versions(self) -> list[str]:
        with self._lock:
            return sorted(self._open)

    def cache_of(self, version: str) -> QueryCache | None:
        """The query cache of an open version (None: not open, or nothing kept for it)."""
        with self._lock:
            return self._caches.get(version)

    def close(self) -> None:
        with self._lock:
            for con in self._open.values():
                con.close()
            self._open.clear()
            self._caches.clear()
            self._users.clear()
