"""Whether a reader still has a published version open, so that pruning spares it.

A reader of `published.duckdb` reads the Parquet files of its own version folder (the
catalog's views name them), until it reconnects. Deleting that folder under it would break
its next query, so a version is pruned only when no process holds its `published.duckdb`.

DuckDB says so itself: every connection to a database file takes a POSIX (fcntl) lock on the
whole file for as long as it is open, a shared (read) lock for a read-only connection, an
exclusive (write) lock for a writer. Verified by experiment with DuckDB 2.0's Python package,
PyPI's `duckdb-cli` 1.5 (interactive) and SQLAlchemy's duckdb_engine, each holding the file in
another process: `fcntl.lockf(fd, LOCK_EX | LOCK_NB)` is refused (EAGAIN) while the reader is
connected and granted once it has closed, and F_OFD_GETLK reports a READ lock with the
reader's PID (tests/reliability/test_readers.py repeats this with a real second process).

The probe only asks (F_OFD_GETLK on Linux, F_GETLK elsewhere): it takes no lock, so a
reader opening the file at that instant is never refused. Two POSIX rules shape it:

- a process never conflicts with its own POSIX locks, and closing ANY descriptor of a file
  drops all the locks the process holds on it. So a file this process itself has open (a
  reader in the publisher's own process) counts as held, found from the process's open
  descriptors without opening it again;
- OFD locks (Linux ≥ 3.15) do conflict with the caller's own POSIX locks; elsewhere
  F_GETLK's classic semantics apply, covered by the rule above.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
from pathlib import Path

#: struct flock: Linux puts the lock type first, the BSDs (macOS) the offsets first.
_FLOCK = "hhqqi4x" if sys.platform.startswith("linux") else "qqihh"


def _pack(kind: int) -> bytes:
    if _FLOCK.startswith("hh"):
        return struct.pack(_FLOCK, kind, os.SEEK_SET, 0, 0, 0)
    return struct.pack(_FLOCK, 0, 0, 0, kind, os.SEEK_SET)


def _unpack(data: bytes) -> tuple[int, int]:
    """(lock type, pid) of a struct flock."""
    if _FLOCK.startswith("hh"):
        kind, _, _, _, pid = struct.unpack(_FLOCK, data)
    else:
        _, _, pid, kind, _ = struct.unpack(_FLOCK, data)
    return kind, pid


def _open_here(path: Path) -> bool:
    """This process has `path` open (any descriptor of it)."""
    try:
        wanted = os.stat(path)
    except FileNotFoundError:
        return False
    descriptors = Path("/proc/self/fd") if Path("/proc/self/fd").is_dir() else Path("/dev/fd")
    for entry in descriptors.iterdir():
        try:
            found = os.stat(entry)
        except OSError:  # closed since the listing (the listing's own descriptor, too)
            continue
        if (found.st_dev, found.st_ino) == (wanted.st_dev, wanted.st_ino):
            return True
    return False


def holder(path: str | os.PathLike) -> int | None:
    """The PID of a process that holds `path` open through DuckDB (its lock), or None.

    A missing file is held by nobody."""
    path = Path(path)
    if _open_here(path):
        return os.getpid()
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        command = getattr(fcntl, "F_OFD_GETLK", fcntl.F_GETLK)
        # Would an exclusive lock on the whole file be granted? Asks; takes nothing.
        kind, pid = _unpack(fcntl.fcntl(fd, command, _pack(fcntl.F_WRLCK)))
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid
