"""Bounded retries with exponential backoff for source faults that pass.

A source that is restarting, a connection the server dropped, a statement cancelled by a
lock timeout, SQLite's `database is locked` while a writer holds an exclusive lock: these
pass, so a table is tried again a few times (pauses `first_pause_s`, ×2 each time), then
the error is raised as it was. Retrying a table is safe because its load is one DuckDB
transaction: a failed attempt left raw, the audit trail and the watermark untouched.
Anything else (schema drift, a bug, a bad value) fails at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Fragments of the messages of faults that pass (drivers wrap them in their own types).
TRANSIENT = (
    "database is locked",
    "database table is locked",
    "lock timeout",
    "canceling statement",
    "terminating connection",
    "server closed the connection",
    "connection refused",
    "could not connect",
    "connection reset",
    "connection timed out",
    "no connection to the server",
    "connection is closed",
    "ssl syscall",
    "the database system is starting up",
    "the database system is shutting down",
    "is unavailable",
)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) is a fault worth retrying."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if any(fragment in str(exc).lower() for fragment in TRANSIENT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


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
