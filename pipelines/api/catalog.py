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
import logging
import re
import threading
import time
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
        self._recipes: dict[tuple, tuple[str, Any]] = {}  # key -> (sql, params) as asked
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

    def get(self, key: tuple, compute: Callable[[], Result],
            recipe: tuple[str, Any] | None = None) -> Result:
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
                        if recipe is not None:
                            self._recipes[key] = recipe
                    while len(self._results) > self.entries or self._rows > self.total_rows:
                        dropped, result_dropped = self._results.popitem(last=False)
                        self._rows -= len(result_dropped.rows)
                        self._recipes.pop(dropped, None)
            return result
        finally:
            with self._lock:
                self._running.pop(key).set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._results)

    def recipes(self, limit: int) -> list[tuple[str, Any]]:
        """The (sql, params) of the kept results, the most recently used first (at most
        `limit`): what a new version is warmed with."""
        with self._lock:
            keys = list(reversed(self._results))[:limit]
            return [self._recipes[k] for k in keys if k in self._recipes]


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
            self._result = self._cache.get(key, lambda: self._run(sql, params), (sql, params))
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


#: A new version is warmed with at most this many of the previous version's kept queries.
WARM_QUERIES = CACHE_ENTRIES
#: Warming a new version stops after this long (seconds): it is served then, warm or not.
WARM_SECONDS = 30.0
#: After a new version failed to open, how long the previous one is served before trying
#: again (seconds).
WARM_RETRY_SECONDS = 5.0

#: A warmer: given the version served until now and a reading of the new one, asks the new
#: one what the previous one was asked (the dashboard's payloads, …). Runs off the request
#: threads, before any request reads the new version; at the server's start (`prime`) the
#: previous version is None: it asks what is most often asked.
Warmer = Callable[[str | None, "Reading"], None]

LOG = logging.getLogger("mealytics.api")


class Catalog:
    """The published versions this process has open, how many requests use each, and each
    one's query cache.

    With `warm` (what `mealytics serve` does), a newly published version is not read by
    requests the moment it appears: a background thread opens it and asks it, most
    recently used first, the queries the version served until now has kept (and what each
    registered `Warmer` asks: the dashboard's payloads), while requests go on reading the
    previous version, whose caches are warm; then every new request reads the new version.
    A publication thus costs no request a cold cache (the stalls of a switch: each request
    running its own queries at once, and the dashboard's payload built in a request). The
    switch waits at most WARM_SECONDS. Without `warm`, a request reads whatever is current
    when it starts. `settle()` waits until requests read what is current."""

    def __init__(
        self,
        publish_folder: str | Path,
        published_file: str | Path,
        cache_entries: int = CACHE_ENTRIES,
        *,
        warm: bool = False,
        warm_seconds: float = WARM_SECONDS,
    ) -> None:
        self.publish_folder = Path(publish_folder)
        self.published_file = Path(published_file)
        self.cache_entries = cache_entries
        self.warm, self.warm_seconds = warm, warm_seconds
        self._lock = threading.Lock()
        self._switched = threading.Condition(self._lock)
        self._open: dict[str, duckdb.DuckDBPyConnection] = {}
        self._caches: dict[str, QueryCache] = {}
        self._users: dict[str, int] = {}
        self._current: str | None = None
        self._warming: str | None = None
        self._failed: tuple[str, float] | None = None  # (version, when) that did not open
        self._warmers: list[Warmer] = []
        self._on_switch: list[Callable[[str], None]] = []
        self.warmed: list[tuple[str, int, float]] = []  # (version, queries asked, seconds)

    def add_warmer(self, warmer: Warmer) -> None:
        """Ask `warmer` to warm each new version (see `Warmer`)."""
        self._warmers.append(warmer)

    def on_switch(self, listener: Callable[[str], None]) -> None:
        """Call `listener(version)` when requests start reading a new version."""
        self._on_switch.append(listener)

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

    def _serve_previous(self, version: str, path: Path) -> bool:
        """Whether a request should read the version served until now while `version`
        (newer) warms; starts warming it when nothing does (lock held)."""
        previous = self._current
        if (not self.warm or previous is None or previous == version
                or UNVERSIONED in (previous, version) or previous not in self._open):
            return False
        if self._warming is None:
            failed = self._failed
            if failed is not None and failed[0] == version and \
                    time.monotonic() - failed[1] < WARM_RETRY_SECONDS:
                return True
            self._warming = version
            threading.Thread(
                target=self._warm, args=(version, path, previous), daemon=True,
                name=f"mealytics-warm-{version}",
            ).start()
        return True

    def _acquire(self) -> tuple[str, duckdb.DuckDBPyConnection, QueryCache | None]:
        for attempt in range(OPEN_TRIES):
            version, path = self.resolve()
            switched = False
            with self._lock:
                if self._serve_previous(version, path):
                    version = self._current
                    self._users[version] += 1
                    return version, self._open[version], self._caches.get(version)
                try:
                    con = self._open.get(version) or duck.connect(path, read_only=True)
                except duckdb.Error as exc:
                    if attempt + 1 < OPEN_TRIES:
                        continue
                    raise NotPublishedError(f"cannot open the published catalog: {exc}") from None
                self._register(version, con)
                self._users[version] = self._users.get(version, 0) + 1
                switched = self._current not in (None, version)
                self._current = version
                self._close_unused()
                cache = self._caches.get(version)
            if switched:
                self._switch_done(version)
            return version, con, cache
        raise AssertionError("unreachable")

    def _register(self, version: str, con: duckdb.DuckDBPyConnection) -> None:
        if version not in self._open:
            self._open[version] = con
            # the unversioned file may be rewritten in place: nothing is kept for it
            if self.cache_entries and version != UNVERSIONED:
                self._caches[version] = QueryCache(self.cache_entries)

    def _warm(self, version: str, path: Path, previous: str) -> None:
        """Open `version`, ask it what `previous` was asked, then switch requests to it."""
        began = time.monotonic()
        try:
            con = duck.connect(path, read_only=True)
        except duckdb.Error as exc:  # pruned meanwhile, or broken: serve the previous one
            LOG.warning("version %s: cannot open it (%s); serving %s", version, exc, previous)
            with self._lock:
                self._warming, self._failed = None, (version, time.monotonic())
            return
        with self._lock:
            self._register(version, con)
            self._users[version] = self._users.get(version, 0) + 1
            old = self._caches.get(previous)
            cache = self._caches.get(version)
        asked = 0
        cursor = CachedCursor(con, cache)
        try:
            deadline = began + self.warm_seconds
            for sql, params in (old.recipes(WARM_QUERIES) if old is not None else []):
                if time.monotonic() > deadline:
                    break
                try:
                    cursor.execute(sql, params)
                    asked += 1
                except duckdb.Error:
                    pass  # the new version may lack what the previous one had
            for warmer in self._warmers:
                if time.monotonic() > deadline:
                    break
                try:
                    warmer(previous, Reading(version, cursor))
                except Exception:  # noqa: BLE001 (a warmer's failure only costs warmth)
                    LOG.exception("version %s: a warmer failed", version)
        finally:
            cursor.close()
            with self._lock:
                self._users[version] -= 1
                self._warming, self._failed = None, None
                self._current = version
                self._close_unused()
                self._switched.notify_all()
            seconds = time.monotonic() - began
            self.warmed.append((version, asked, round(seconds, 3)))
            LOG.info("version %s: warmed (%d queries, %.1f s), now served", version, asked,
                     seconds)
            self._switch_done(version)

    def prime(self) -> str | None:
        """Warm what is published now with the warmers (the server's start, before it takes
        requests); the version, or None when nothing is published yet."""
        try:
            with self.reading() as reading:
                for warmer in self._warmers:
                    try:
                        warmer(None, reading)
                    except Exception:  # noqa: BLE001 (a warmer's failure only costs warmth)
                        LOG.exception("version %s: a warmer failed", reading.version)
                return reading.version
        except NotPublishedError:
            return None

    def _switch_done(self, version: str) -> None:
        for listener in self._on_switch:
            listener(version)

    def settle(self, timeout: float = 60.0) -> str:
        """Wait until requests read the version that is current now (warmed, when warming);
        returns it."""
        version, _ = self.resolve()
        deadline = time.monotonic() + timeout
        with self.reading():  # starts warming it when it is new
            pass
        with self._lock:
            while self._current != version:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"version {version} not served after {timeout} s")
                if self._warming is None:  # warming ended without switching: try again
                    self._lock.release()
                    try:
                        with self.reading():
                            pass
                    finally:
                        self._lock.acquire()
                    if self._current != version:
                        self._switched.wait(0.1)
                    continue
                self._switched.wait(min(left, 0.5))
        return version

    def _release(self, version: str) -> None:
        with self._lock:
            self._users[version] -= 1
            self._close_unused()

    def _close_unused(self) -> None:
        """Close the versions no longer current that no request reads (nor warming), and
        drop their cached results (lock held)."""
        for version in [v for v, n in self._users.items()
                        if n == 0 and v not in (self._current, self._warming)]:
            self._open.pop(version).close()
            self._caches.pop(version, None)
            del self._users[version]

    @contextlib.contextmanager
    def reading(self) -> Iterator[Reading]:
        """A cursor on the version served now, for one request."""
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
