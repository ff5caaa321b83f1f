"""One run at a time on the warehouse: an exclusive OS lock on a file beside it.

DuckDB lets one process open a database file for writing, and no other process open it at
all meanwhile. The run queue of `dagster dev` (dagster_home/dagster.yaml) starts one run at
a time, but `mealytics run` executes in its own process and never passes through that
queue. So every run that touches the warehouse holds `<warehouse>.lock` (`flock`, released
by the OS when the process ends, even killed) for as long as it uses the warehouse: the
`Warehouse` resource takes it when a run initializes its resources and lets it go when the
run ends (pipelines/defs/resources.py). A second run waits, saying for whom, up to a
timeout, then fails with a clear error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pipelines.errors import WarehouseLockTimeout
from pipelines.settings import DEFAULT_LOCK_TIMEOUT_S, LOCK_TIMEOUT_VAR

#: Seconds a run waits for the lock by default: longer than a daily run at full scale.
DEFAULT_TIMEOUT_S = DEFAULT_LOCK_TIMEOUT_S
TIMEOUT_VAR = LOCK_TIMEOUT_VAR
#: How often a waiting run tries again, and how often it repeats that it is waiting.
POLL_S = 0.25
REPEAT_S = 60.0

#: Locks held here ((resolved lock path, thread) → depth): the thread holding one nests when
#: it takes it again, since a second `flock` on a new descriptor would wait for itself;
#: another thread waits like another process.
_held: dict[tuple[Path, int], int] = {}
_held_guard = threading.Lock()


def lock_path(warehouse: str | os.PathLike) -> Path:
    """The lock file of a warehouse: `<warehouse>.lock`, in the same folder."""
    path = Path(warehouse)
    return path.with_name(path.name + ".lock")


def _holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it in the file ("run … / pid …")."""
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "another process"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def warehouse_lock(
    warehouse: str | os.PathLike,
    *,
    owner: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    log: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the warehouse's lock for the block, waiting up to `timeout_s` seconds for it.

    `owner` (e.g. "run 1a2b3c4d") is written in the lock file with the pid, for whoever waits
    next. `log` receives the waiting lines. Raises `WarehouseLockTimeout` on timeout. In a
    thread that already holds it (`mealytics run` around its Dagster run), it nests.
    """
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = (path.resolve(), threading.get_ident())
    with _held_guard:
        nested = key in _held
        if nested:
            _held[key] += 1
    if nested:
        try:
            yield path
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    # No O_TRUNC: the file names the current holder until this process holds the lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _try_lock(fd):
            _wait_for(fd, warehouse, path, timeout_s, log)
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{owner or 'a process'} / pid {os.getpid()} since {since}\n".encode(), 0)
        with _held_guard:
            _held[key] = 1
        try:
            yield path
        finally:
            with _held_guard:
                del _held[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _wait_for(fd: int, warehouse, path: Path, timeout_s: float, log) -> None:
    """Poll the lock until it is this process's, saying whom it waits for; on timeout raise
    `WarehouseLockTimeout`."""
    began = time.monotonic()
    said = began
    if log is not None:
        log(
            f"waiting for the warehouse lock held by {_holder(fd)} ({path}); "
            f"giving up after {timeout_s:g} s"
        )
    while not _try_lock(fd):
        now = time.monotonic()
        if now - began >= timeout_s:
            raise WarehouseLockTimeout(
                f"the warehouse {warehouse} is in use by {_holder(fd)}: its lock "
                f"{path} was not released within {timeout_s:g} s. Wait for that run "
                f"to finish (or stop it), or raise {TIMEOUT_VAR}."
            )
        if log is not None and now - said >= REPEAT_S:
            said = now
            log(
                f"still waiting for the warehouse lock held by {_holder(fd)} "
                f"({now - began:.0f} s)"
            )
        time.sleep(min(POLL_S, max(0.0, timeout_s - (now - began))))
    if log is not None:
        log(f"warehouse lock acquired after {time.monotonic() - began:.1f} s")
