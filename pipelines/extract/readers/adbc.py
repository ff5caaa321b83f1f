"""What the two ADBC readers share: their statements (cursors), and ending a snapshot."""

from __future__ import annotations

from typing import Any

import adbc_driver_manager

from pipelines.extract.readers.base import ReadSession


def close_quietly(closeable: Any) -> None:
    """Close an ADBC cursor or connection that may belong to a dropped connection."""
    try:
        closeable.close()
    except adbc_driver_manager.Error:
        pass  # its connection is gone (the server dropped it): nothing is left to release


class AdbcSession(ReadSession):
    """A session on an ADBC connection in autocommit mode, its snapshot an explicit
    read transaction; every statement's cursor is closed when the session ends."""

    def __init__(self, source, conn) -> None:
        super().__init__(source, conn)
        self._cursors: list = []

    @classmethod
    def disconnect(cls, conn: Any) -> None:
        close_quietly(conn)

    def cursor(self):
        cur = self.conn.cursor()
        self._cursors.append(cur)
        return cur

    def execute(self, sql: str, params=None) -> None:
        self.cursor().execute(sql, params)

    def end(self) -> None:
        """Close this session's statements (SQLite refuses to end a transaction while one
        is open), then end its read transaction."""
        self._close_cursors()
        try:
            self.execute("ROLLBACK")  # a read-only transaction: nothing to keep
        except adbc_driver_manager.Error:
            # No transaction left (BEGIN itself failed) or no connection left (dropped):
            # either way nothing to roll back, and the session's error is the one to see.
            pass
        self._close_cursors()

    def _close_cursors(self) -> None:
        for cur in self._cursors:
            close_quietly(cur)
        self._cursors.clear()
