"""Bounded retries with exponential backoff for source faults that pass, told by class.

A source that is restarting, a connection the server dropped, a statement cancelled by a
lock timeout, SQLite's lock while a writer commits: these pass, so a table is tried again a
few times (pauses `first_pause_s`, ×2 each time), then the error is raised as it was.
Retrying a table is safe because its load is one DuckDB transaction: a failed attempt
left raw, the audit trail and the watermark untouched. Anything else (schema drift, a
bug, a bad value) fails at once.

A fault is recognised by its exception's class (and code), never by its message, on the
exception and on everything it was raised from (`__cause__`, `__context__`, SQLAlchemy's
`orig`):

- the project's `TransientSourceError` family (`pipelines.errors`), which the readers
  raise where the driver gives no class to tell the fault by: ADBC reports a dropped
  PostgreSQL connection as a generic I/O error and SQLite's lock as an invalid argument;
- `sqlite3.OperationalError` whose `sqlite_errorcode` is SQLITE_BUSY or SQLITE_LOCKED
  (reflection and the portable reader go through the standard library's driver);
- psycopg's classes: `OperationalError` without a SQLSTATE (connection failed or lost),
  `AdminShutdown`, `CrashShutdown`, `CannotConnectNow`, `TooManyConnections`, the
  connection-exception class 08, and per statement `LockNotAvailable`, `QueryCanceled`,
  `SerializationFailure`, `DeadlockDetected`;
- ADBC's errors by the same SQLSTATEs (`adbc_driver_manager.Error.sqlstate`: its
  classes are generic, the SQLSTATE is the class);
- SQLAlchemy's `DBAPIError` with `connection_invalidated` (its dialect saw a disconnect);
- the built-in `ConnectionError` and `TimeoutError` (sockets).

Each fault also has a scope: `SOURCE` (the whole source: unreachable, connection lost,
the SQLite file locked), or `TABLE` (one statement: a lock or statement timeout, a
deadlock). The table loop stops trying further tables once a source-wide fault has
outlived its retries: they would fail the same way, each after its own retries.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import sqlalchemy as sa

from pipelines.errors import TransientSourceError

T = TypeVar("T")
Scope = Literal["source", "table"]
SOURCE: Scope = "source"
TABLE: Scope = "table"

log = logging.getLogger(__name__)

#: SQLSTATEs of faults that pass, and their scope (PostgreSQL's codes; class 08 too).
SQLSTATES: dict[str, Scope] = {
    "57P01": SOURCE,  # admin_shutdown: a backend terminated, the server shutting down
    "57P02": SOURCE,  # crash_shutdown
    "57P03": SOURCE,  # cannot_connect_now: the server is starting up
    "53300": SOURCE,  # too_many_connections
    "55P03": TABLE,  # lock_not_available: our lock_timeout behind a migration's lock
    "57014": TABLE,  # query_canceled: statement timeout
    "40001": TABLE,  # serialization_failure
    "40P01": TABLE,  # deadlock_detected
}
#: SQLite's primary result codes of a lock held by another connection.
SQLITE_LOCK_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _sqlstate_scope(sqlstate: str | None) -> Scope | None:
    if not sqlstate:
        return None
    if sqlstate.startswith("08"):  # connection_exception and its subclasses
        return SOURCE
    return SQLSTATES.get(sqlstate)


def _psycopg_scope(exc: BaseException) -> Scope | None:
    try:
        import psycopg
        from psycopg import errors as pg
    except ImportError:  # psycopg is optional: a source without PostgreSQL needs none
        return None
    if not isinstance(exc, psycopg.Error):
        return None
    source = (pg.AdminShutdown, pg.CrashShutdown, pg.CannotConnectNow, pg.TooManyConnections,
              pg.ConnectionException)  # fmt: skip
    table = (pg.LockNotAvailable, pg.QueryCanceled, pg.SerializationFailure, pg.DeadlockDetected)
    if isinstance(exc, source):
        return SOURCE
    if isinstance(exc, table):
        return TABLE
    if type(exc) is psycopg.OperationalError and exc.sqlstate is None:
        return SOURCE  # no server answer at all: the connection failed or was lost
    return _sqlstate_scope(exc.sqlstate)  # the rest of class 08


def _adbc_scope(exc: BaseException) -> Scope | None:
    try:
        import adbc_driver_manager
    except ImportError:  # ADBC is optional: the portable reader needs none
        return None
    if isinstance(exc, adbc_driver_manager.Error):
        return _sqlstate_scope(exc.sqlstate)
    return None


def scope_of(exc: BaseException) -> Scope | None:
    """The scope of `exc` itself if it is a fault that passes (not looking at its causes)."""
    if isinstance(exc, TransientSourceError):
        return SOURCE if exc.source_wide else TABLE
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return SOURCE if code is not None and code & 0xFF in SQLITE_LOCK_CODES else None
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return SOURCE
    if isinstance(exc, ConnectionError | TimeoutError):
        return SOURCE
    return _psycopg_scope(exc) or _adbc_scope(exc)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and everything it was raised from, each once."""
    todo, seen = [exc], set()
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]


def fault_scope(exc: BaseException) -> Scope | None:
    """`SOURCE` or `TABLE` if `exc` (or an exception it was raised from) passes, else None."""
    return next((s for s in map(scope_of, _chain(exc)) if s is not None), None)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) is a fault worth retrying."""
    return fault_scope(exc) is not None


def is_source_wide(exc: BaseException) -> bool:
    """Whether `exc` is a fault of the whole source (the other tables would fail too)."""
    return fault_scope(exc) == SOURCE


def first_line(exc: BaseException) -> str:
    """`Type: first line of the message`: an error in one line, for logs and failures."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def pauses(retries: int, first_pause_s: float) -> list[float]:
    """The pauses before each retry: first, 2×first, 4×first, …"""
    return [first_pause_s * 2**i for i in range(retries)]


def call_with_retries(
    attempt: Callable[[int], T],
    *,
    retries: int,
    first_pause_s: float,
    on_retry: Callable[[int, float, BaseException], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`attempt(n)` for n = 0, 1, …; a transient failure is retried up to `retries` times."""
    waits = pauses(retries, first_pause_s)
    for n in range(retries + 1):
        try:
            return attempt(n)
        except Exception as exc:
            if n >= retries or not is_transient(exc):
                raise
            if on_retry is not None:
                on_retry(n + 1, waits[n], exc)
            sleep(waits[n])
    raise AssertionError("unreachable")


def _log_retry(message: str) -> None:
    log.warning(message)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a fault that passes is retried; `log` gets one line
    per retry ("raw.orders_order: …; retry 1 of 3 in 1 s")."""

    retries: int = 3
    first_pause_s: float = 1.0
    log: Callable[[str], None] = field(default=_log_retry, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def call(self, what: str, attempt: Callable[[int], T]) -> T:
        """`attempt(n)` with this policy's retries; `what` names it in the log."""

        def log_retry(n: int, pause: float, exc: BaseException) -> None:
            self.log(f"{what}: {first_line(exc)}; retry {n} of {self.retries} in {pause:g} s")

        return call_with_retries(
            attempt,
            retries=self.retries,
            first_pause_s=self.first_pause_s,
            on_retry=log_retry,
            sleep=self.sleep,
        )


#: No retry: the first failure is raised (extract_all's default, for tests and scripts).
NO_RETRIES = RetryPolicy(retries=0)
