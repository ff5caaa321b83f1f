"""Transient source faults, told by exception class and code (never by message text)."""

from __future__ import annotations

import sqlite3

import adbc_driver_manager
import psycopg
import pytest
import sqlalchemy as sa
from psycopg import errors as pg

from pipelines.errors import (
    SchemaDriftError,
    SourceBusyError,
    SourceConnectionLostError,
    SourceUnavailableError,
    TransientSourceError,
)
from pipelines.extract.retry import (
    SOURCE,
    SQLSTATES,
    TABLE,
    RetryPolicy,
    fault_scope,
    first_line,
    is_transient,
)

IO = adbc_driver_manager.AdbcStatusCode.IO
INVALID_STATE = adbc_driver_manager.AdbcStatusCode.INVALID_STATE


def _sqlite_error(code: int | None) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database is locked")
    if code is not None:
        exc.sqlite_errorcode = code  # as the driver sets it
    return exc


def _wrapped(orig: Exception) -> sa.exc.DBAPIError:
    """SQLAlchemy's wrapper, as the engine raises it (`orig` and the cause set)."""
    try:
        raise sa.exc.OperationalError("SELECT 1", {}, orig) from orig
    except sa.exc.OperationalError as exc:
        return exc


def _raised_from(cause: Exception) -> RuntimeError:
    try:
        raise RuntimeError("DuckDB could not read the stream") from cause
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "scope"),
    [
        (SourceUnavailableError("source sqlite:///x is unavailable"), SOURCE),
        (SourceBusyError("database is locked"), SOURCE),
        (SourceConnectionLostError("connection lost"), SOURCE),
        (_sqlite_error(sqlite3.SQLITE_BUSY), SOURCE),
        (_sqlite_error(sqlite3.SQLITE_LOCKED), SOURCE),
        (_sqlite_error(sqlite3.SQLITE_BUSY | (3 << 8)), SOURCE),  # SQLITE_BUSY_TIMEOUT
        (_sqlite_error(None), None),  # the words alone do not count
        (_sqlite_error(sqlite3.SQLITE_CORRUPT), None),
        (pg.AdminShutdown("terminating connection"), SOURCE),
        (pg.CannotConnectNow("the database system is starting up"), SOURCE),
        (pg.ConnectionFailure("connection failure"), SOURCE),  # class 08
        (psycopg.OperationalError("connection failed: Connection refused"), SOURCE),
        (pg.LockNotAvailable("canceling statement due to lock timeout"), TABLE),
        (pg.QueryCanceled("canceling statement due to statement timeout"), TABLE),
        (pg.DeadlockDetected("deadlock detected"), TABLE),
        (pg.UndefinedTable("relation does not exist"), None),
        (_wrapped(pg.LockNotAvailable("lock timeout")), TABLE),
        (_wrapped(pg.UndefinedColumn("no such column")), None),
        (
            adbc_driver_manager.ProgrammingError("x", status_code=INVALID_STATE, sqlstate="55P03"),
            TABLE,
        ),
        (adbc_driver_manager.OperationalError("x", status_code=IO, sqlstate="57P01"), SOURCE),
        # ADBC's plain I/O status is the reader's to translate (SQLite uses it for any step).
        (adbc_driver_manager.OperationalError("x", status_code=IO), None),
        (ConnectionResetError("reset by peer"), SOURCE),
        (TimeoutError("timed out"), SOURCE),
        (_raised_from(SourceConnectionLostError("lost")), SOURCE),
        (OSError("database is locked"), None),
        (SchemaDriftError("column total changed type"), None),
        (ValueError("server closed the connection unexpectedly"), None),
    ],  # fmt: skip
)
def test_fault_scope(exc, scope):
    assert fault_scope(exc) == scope
    assert is_transient(exc) is (scope is not None)


def test_sqlstates_name_the_classes_psycopg_gives_them():
    for code, scope in SQLSTATES.items():
        assert fault_scope(pg.lookup(code)("x")) == scope, code


def test_a_disconnect_sqlalchemy_saw_is_a_source_fault():
    exc = _wrapped(ValueError("driver-specific"))
    exc.connection_invalidated = True
    assert fault_scope(exc) == SOURCE


def test_the_project_s_transient_errors_are_its_own_errors():
    assert issubclass(SourceUnavailableError, TransientSourceError)
    assert all(c.source_wide for c in (SourceBusyError, SourceConnectionLostError))


def test_retry_policy_retries_transient_faults_and_logs_each_retry():
    logged, slept, calls = [], [], []
    policy = RetryPolicy(retries=2, first_pause_s=0.5, log=logged.append, sleep=slept.append)

    def flaky(n: int) -> str:
        calls.append(n)
        if n == 0:
            raise SourceBusyError("database is locked\nsecond line")
        return "done"

    assert policy.call("raw.orders", flaky) == "done"
    assert (calls, slept) == ([0, 1], [0.5])
    assert logged == ["raw.orders: SourceBusyError: database is locked; retry 1 of 2 in 0.5 s"]
    with pytest.raises(SchemaDriftError):
        policy.call("raw.orders", lambda n: (_ for _ in ()).throw(SchemaDriftError("drift")))
    assert first_line(ValueError("")) == "ValueError: "
