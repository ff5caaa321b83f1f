"""The operational database, only read: its URL, a read-only engine, and read sessions.

One `Source` per URL. Its reader (`readers.READERS`: ADBC for SQLite and PostgreSQL, a
SQLAlchemy streaming cursor elsewhere) opens the sessions; each session is one read-only
snapshot of a table's data and key queries. Reflection goes through the SQLAlchemy
engine, which can only read too (SQLite `mode=ro`; PostgreSQL
`default_transaction_read_only=on`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from pipelines import secrets
from pipelines.errors import SourceUnavailableError  # noqa: F401 (re-exported)
from pipelines.extract.plan import TablePlan, TableSelection, reflect_plans
from pipelines.extract.readers import ReadSession, reader_class, resolve_reader
from pipelines.extract.readers.postgres import CONNECT_TIMEOUT_S, PG_OPTIONS
from pipelines.settings import mask_url

DEFAULT_BATCH_ROWS = 65_536


class Source:
    """A read-only handle on the operational database at `url`."""

    def __init__(
        self, url: str | sa.URL, *, batch_rows: int = DEFAULT_BATCH_ROWS, reader: str = "auto"
    ) -> None:
        # Every password the process is handed is known to the redaction (pipelines.secrets).
        secrets.register_url(url)
        self.url = sa.make_url(url) if isinstance(url, str) else url
        self.dialect = self.url.get_backend_name()
        self.batch_rows = batch_rows
        self.reader = resolve_reader(reader, self.dialect)
        self.session_class: type[ReadSession] = reader_class(self.reader, self.dialect)
        self._engine: sa.Engine | None = None
        self._shared = None  # a connection kept open by `connected()`

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"Source({self.masked_url!r}, reader={self.reader!r})"

    @property
    def sqlite_path(self) -> Path:
        if not self.url.database or self.url.database == ":memory:":
            raise SourceUnavailableError("an in-memory SQLite database cannot be a source")
        return Path(self.url.database).resolve()

    @property
    def engine(self) -> sa.Engine:
        """A SQLAlchemy engine that can only read (reflection, checks, the portable path)."""
        if self._engine is None:
            self._engine = _read_only_engine(self)
        return self._engine

    def check(self) -> None:
        """Raise `SourceUnavailableError` unless the source answers a query."""
        with secrets.redacted_errors():
            self._check()

    def _check(self) -> None:
        if self.dialect == "sqlite" and not self.sqlite_path.is_file():
            raise SourceUnavailableError(
                f"source {self.masked_url} is unavailable: no such file {self.sqlite_path}"
            )
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("select 1")).scalar_one()
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise SourceUnavailableError(
                f"source {self.masked_url} is unavailable: {reason}"
            ) from exc

    def plans(
        self, selection: TableSelection | None = None, *, tables: list[str] | None = None
    ) -> list[TablePlan]:
        """Reflect the source: one plan per selected table."""
        self.check()
        with secrets.redacted_errors():
            return reflect_plans(self.engine, selection, tables=tables)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def connected(self) -> Iterator[Source]:
        """Keep one connection open for the sessions inside (an ADBC PostgreSQL connect
        costs ~0.1 s: it loads the server's type catalog)."""
        if not self.session_class.shares_connection or self._shared is not None:
            yield self
            return
        with secrets.redacted_errors():
            self._shared = self.session_class.connect(self)
        try:
            yield self
        finally:
            conn, self._shared = self._shared, None
            self.session_class.disconnect(conn)

    @contextmanager
    def session(self, *, fresh: bool = False) -> Iterator[ReadSession]:
        """One read-only snapshot for a table's data and key queries; `fresh`: on a new
        connection even inside `connected()` (a retry: the shared one may be dead)."""
        with secrets.redacted_errors():  # a driver's error may quote the password
            shared = None if fresh else self._shared
            conn = shared if shared is not None else self.session_class.connect(self)
            session = self.session_class(self, conn)
            try:
                session.begin()
                yield session
            finally:
                session.end()
                if shared is None:
                    self.session_class.disconnect(conn)


def _read_only_engine(source: Source) -> sa.Engine:
    """The engine of `source` that cannot write: SQLite opened `mode=ro`, PostgreSQL
    sessions read-only with a bounded lock wait."""
    if source.dialect == "sqlite":
        url = sa.URL.create(
            "sqlite", database=f"file:{source.sqlite_path}?mode=ro", query={"uri": "true"}
        )
        return sa.create_engine(url, poolclass=sa.pool.NullPool)
    if source.dialect == "postgresql":
        # UTF-8 whatever the URL or the database says: psycopg on a SQL_ASCII database's
        # own encoding returns text as bytes, which SQLAlchemy's first connect cannot parse
        # (the run stopped with a TypeError). The portable reader takes a SQL_ASCII
        # database's text columns as bytes itself (`PortableSession`).
        return sa.create_engine(
            source.url,
            poolclass=sa.pool.NullPool,
            connect_args={
                "options": PG_OPTIONS,
                "connect_timeout": CONNECT_TIMEOUT_S,
                "client_encoding": "utf8",
            },
        )
    return sa.create_engine(source.url, poolclass=sa.pool.NullPool)
