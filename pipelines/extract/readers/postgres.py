"""The PostgreSQL reader: ADBC (`adbc_driver_postgresql`), streaming `COPY … TO STDOUT
(FORMAT binary)`.

COPY cannot take parameters, so the cursor expression (built with bound parameters) is
rendered with SQLAlchemy's own literal processors for its typed values (a datetime, an
integer), never by string formatting. The session is read-only
(`default_transaction_read_only=on`, a bounded `lock_timeout`) and the data and key
queries of a table share one REPEATABLE READ snapshot.

Text arrives as UTF-8 whatever the database's encoding (`CLIENT_ENCODING`): the server
transcodes it (LATIN1's 'é' arrives as 'é'), except from a SQL_ASCII database, whose
bytes arrive as they are, for the guard to NULL and record those that are not UTF-8.

ADBC reports a connection the server dropped as a plain I/O error (no SQLSTATE: the
server never answered), and one dropped in the middle of a COPY stream as the stream's
`OSError`; the reader raises `SourceConnectionLostError` for both, which is retried on a
new connection. Errors with a SQLSTATE (a lock timeout: 55P03) keep their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import adbc_driver_manager
import pyarrow as pa
import sqlalchemy as sa

from pipelines.errors import SourceConnectionLostError, SourceUnavailableError
from pipelines.extract.plan import DECIMAL, TEXT, TablePlan
from pipelines.extract.readers.adbc import AdbcSession, close_quietly
from pipelines.extract.readers.conditions import key_range_condition, row_condition
from pipelines.extract.xmin import XidSnapshot

#: Session options: read-only, and a bounded wait behind another session's lock (a
#: migration's ACCESS EXCLUSIVE would otherwise hang the run; the timeout is retried).
PG_OPTIONS = "-c default_transaction_read_only=on -c lock_timeout=60s"
CONNECT_TIMEOUT_S = 10
#: Set on each connection as it opens, overriding the URL's and the server's default (the
#: database's own encoding, which ADBC would put into Arrow's UTF-8 strings unconverted: a
#: LATIN1 'é' arrived as a byte that is not UTF-8, NULL in raw). UTF-8, into which the
#: server transcodes any encoding; but a SQL_ASCII database has no encoding to transcode
#: from, and refuses to send a UTF-8 client a byte that is not UTF-8, failing the whole
#: COPY: its bytes are taken as they are (`SQL_ASCII` converts nothing), and the guard
#: (`pipelines.extract.guard`) NULLs and records the values that are not UTF-8.
CLIENT_ENCODING = (
    "SELECT set_config('client_encoding', CASE current_setting('server_encoding') "
    "WHEN 'SQL_ASCII' THEN 'SQL_ASCII' ELSE 'UTF8' END, false)"
)


def libpq_uri(url: sa.URL) -> str:
    """The libpq URI of a SQLAlchemy URL, with the session options (password included:
    it is handed to the driver only)."""
    # libpq URIs decode %20, not '+': encode the query ourselves.
    query = {k: v for k, v in url.query.items() if isinstance(v, str)}
    query |= {"options": PG_OPTIONS, "connect_timeout": str(CONNECT_TIMEOUT_S)}
    # The user and password percent-encoded by us: SQLAlchemy renders a space as is, which
    # libpq refuses, quoting the whole password in its error (issue 15).
    userinfo = ""
    if url.username is not None:
        userinfo = quote(url.username, safe="")
        if url.password is not None:
            userinfo += ":" + quote(str(url.password), safe="")
        userinfo += "@"
    base = sa.URL.create("postgresql", host=url.host, port=url.port, database=url.database)
    rendered = base.render_as_string(hide_password=False)
    scheme, rest = rendered.split("://", 1)
    return f"{scheme}://{userinfo}{rest}?" + urlencode(query, quote_via=quote)


def _connection_lost(exc: BaseException) -> bool:
    """An ADBC error the server never answered: I/O status, no SQLSTATE."""
    return (
        isinstance(exc, adbc_driver_manager.OperationalError)
        and exc.sqlstate is None
        and exc.status_code == adbc_driver_manager.AdbcStatusCode.IO
    )


class PostgresSession(AdbcSession):
    stream_keys = True

    @classmethod
    def connect(cls, source):
        import adbc_driver_postgresql.dbapi as adbc

        try:
            conn = adbc.connect(libpq_uri(source.url), autocommit=True)
        except adbc_driver_manager.Error as exc:
            raise SourceUnavailableError(
                f"source {source.masked_url} is unavailable: {exc}"
            ) from exc
        try:
            with conn.cursor() as cur:
                cur.execute(CLIENT_ENCODING)
                cur.fetchall()
        except BaseException:
            close_quietly(conn)
            raise
        return conn

    def _lost(self, exc: BaseException) -> SourceConnectionLostError:
        first = (str(exc).strip().splitlines() or [""])[0]
        return SourceConnectionLostError(
            f"source {self.source.masked_url}: the connection was lost: {first}"
        )

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except adbc_driver_manager.OperationalError as exc:
            if _connection_lost(exc):
                raise self._lost(exc) from exc
            raise

    def begin(self) -> None:
        with self._translated():
            self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def delete_stamp(self, plan: TablePlan) -> str | None:
        """The table's delete counter (`pg_stat_user_tables.n_tup_del`), its storage file
        (TRUNCATE makes a new one without counting deletes) and the statistics' last reset.

        The counter moves with every deleted row (rolled back ones too: a needless check
        at worst). Statistics reach the view within a second or so of a commit; a delete
        that lands after the stamp is read shows in the next run's stamp. A reset or a
        server crash clears the counter: the stamp changes and the keys are checked."""
        schema = plan.table.schema or "public"
        name = f'"{schema}"."{plan.table.name}"'.replace("'", "''")
        rows = self.fetch(
            sa.text(
                "SELECT coalesce(s.n_tup_del, -1)::text || ':' || c.relfilenode::text || ':' || "
                "coalesce((SELECT stats_reset::text FROM pg_stat_database "
                "WHERE datname = current_database()), '') AS stamp "
                "FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                f"WHERE c.oid = CAST('{name}' AS regclass)"
            ).columns(stamp=sa.Text)
        )
        return rows[0][0] if rows else None

    def xid_snapshot(self) -> XidSnapshot | None:
        """The snapshot's xmin and xmax as 64-bit xids (PostgreSQL ≥ 13: `xid8`), read in
        this session's REPEATABLE READ snapshot, the one the rows are read in; with the
        cluster's system identifier and timeline where the role may read them (any role
        may unless an administrator revoked it: PostgreSQL checks the privilege even in
        a CASE branch not taken, so it is asked first). None before PostgreSQL 13."""
        may = "has_function_privilege('pg_catalog.{}()', 'EXECUTE')"
        ((version, control),) = self.fetch(
            sa.text(
                "SELECT current_setting('server_version_num')::int AS version, "
                f"{may.format('pg_control_system')} "
                f"AND {may.format('pg_control_checkpoint')} AS control"
            ).columns(version=sa.Integer, control=sa.Boolean)
        )
        if version < 130000:
            return None
        origin = (
            "(pg_control_system()).system_identifier::text || ':' || "
            "(pg_control_checkpoint()).timeline_id::text"
            if control
            else "''"
        )
        ((low, high, found),) = self.fetch(
            sa.text(
                "SELECT pg_snapshot_xmin(s)::text AS low, pg_snapshot_xmax(s)::text AS high, "
                f"{origin} AS origin FROM pg_current_snapshot() AS s"
            ).columns(low=sa.Text, high=sa.Text, origin=sa.Text)
        )
        return XidSnapshot(int(low), int(high), found or "")

    def _stream(self, query) -> pa.RecordBatchReader:
        # COPY takes no parameters: SQLAlchemy renders the bound values as typed literals.
        sql = str(
            query.compile(
                dialect=self.source.engine.dialect, compile_kwargs={"literal_binds": True}
            )
        )
        cur = self.cursor()
        with self._translated():
            cur.execute(sql)
            reader = cur.fetch_record_batch()

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            except OSError as exc:  # Arrow's I/O status: libpq lost the server mid-COPY
                raise self._lost(exc) from exc

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _select_columns(self, plan: TablePlan, names) -> list:
        table = plan.table
        out = []
        for name in names:
            col, cp = table.c[name], plan.column(name)
            if cp.kind == TEXT and not isinstance(col.type, sa.String):
                out.append(sa.cast(col, sa.Text).label(name))  # json, uuid, …: as text
            elif cp.kind == DECIMAL:
                out.append(sa.cast(col, sa.Text).label(name))  # exact, DuckDB casts it
            else:
                out.append(col)
        return out

    def rows(
        self,
        plan: TablePlan,
        since: object | None = None,
        keys: list | None = None,
        ranges: list[tuple[int, int]] | None = None,
    ) -> pa.RecordBatchReader:
        q = sa.select(*self._select_columns(plan, plan.column_names)).select_from(plan.table)
        cond = row_condition(plan, since, keys, plan.table, ranges)
        if cond is not None:
            q = q.where(cond)
        return self._stream(q)

    def keys(
        self, plan: TablePlan, ranges: list[tuple[int, int]] | None = None
    ) -> pa.RecordBatchReader:
        q = sa.select(*self._select_columns(plan, plan.primary_key)).select_from(plan.table)
        cond = key_range_condition(plan, ranges, plan.table)
        return self._stream(q if cond is None else q.where(cond))

    def fetch(self, query) -> list[tuple]:
        table = self._stream(query).read_all()
        return list(zip(*(c.to_pylist() for c in table.columns), strict=True))
