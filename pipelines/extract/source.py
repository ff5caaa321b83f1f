"""Reading the operational database, only reading, as streams of Arrow record batches.

One `Source` per URL. Readers, fastest reliable first:

- SQLite: ADBC (`adbc_driver_sqlite`) on the file opened read-only (`file:…?mode=ro`).
  The driver guesses each column's Arrow type from the first batch, and SQLite's
  storage classes vary row by row (a NUMERIC holds INTEGER 12 next to REAL 12.5, an
  all-NULL first batch looks like integers). So every column is CAST to one storage class
  in the query, and a first "hint" row of typed constants fixes the types; it is dropped.
- PostgreSQL: ADBC (`adbc_driver_postgresql`), which streams a query through
  `COPY … TO STDOUT (FORMAT binary)`. COPY cannot take parameters, so the cursor
  expression (built with bound parameters) is rendered with SQLAlchemy's own literal
  processors for its typed values (a datetime, an integer), never by string formatting.
  The session is read-only (`default_transaction_read_only=on`) and the data and key
  queries of a table share one REPEATABLE READ snapshot.
- Anything else SQLAlchemy can reach: a streaming cursor, chunked into Arrow batches (the
  portable path, slower: it builds Python objects per row).

Data queries carry the cursor as a SQLAlchemy expression (`updated_at >= :since`,
`id > :after`).
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from pipelines.errors import SourceUnavailableError  # noqa: F401 (re-exported)
from pipelines.extract.plan import (
    BOOLEAN,
    DATE,
    DECIMAL,
    FLOAT,
    INTEGER,
    TEXT,
    TIMESTAMP,
    TablePlan,
    TableSelection,
    reflect_plans,
)
from pipelines.settings import mask_url

DEFAULT_BATCH_ROWS = 65_536
#: PostgreSQL session options: read-only, and a bounded wait behind another session's lock
#: (a migration's ACCESS EXCLUSIVE would otherwise hang the run; the timeout is retried).
PG_OPTIONS = "-c default_transaction_read_only=on -c lock_timeout=60s"


class Source:
    """A read-only handle on the operational database at `url`."""

    def __init__(
        self, url: str | sa.URL, *, batch_rows: int = DEFAULT_BATCH_ROWS, reader: str = "auto"
    ) -> None:
        self.url = sa.make_url(url) if isinstance(url, str) else url
        self.dialect = self.url.get_backend_name()
        self.batch_rows = batch_rows
        if reader == "auto":
            reader = "adbc" if self.dialect in ("sqlite", "postgresql") else "sqlalchemy"
        if reader not in ("adbc", "sqlalchemy"):
            raise ValueError(f"unknown reader {reader!r}: 'auto', 'adbc' or 'sqlalchemy'")
        self.reader = reader
        self._engine: sa.Engine | None = None
        self._shared = None  # an ADBC connection kept open by `connected()`

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"Source({self.masked_url!r}, reader={self.reader!r})"

    # -- connections -------------------------------------------------------------------

    @property
    def sqlite_path(self) -> Path:
        if not self.url.database or self.url.database == ":memory:":
            raise SourceUnavailableError("an in-memory SQLite database cannot be a source")
        return Path(self.url.database).resolve()

    @property
    def engine(self) -> sa.Engine:
        """A SQLAlchemy engine that can only read (reflection, checks, the portable path)."""
        if self._engine is None:
            if self.dialect == "sqlite":
                url = sa.URL.create(
                    "sqlite", database=f"file:{self.sqlite_path}?mode=ro", query={"uri": "true"}
                )
                self._engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            elif self.dialect == "postgresql":
                self._engine = sa.create_engine(
                    self.url,
                    poolclass=sa.pool.NullPool,
                    connect_args={
                        "options": PG_OPTIONS,
                        "connect_timeout": 10,
                    },
                )
            else:
                self._engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        return self._engine

    def check(self) -> None:
        """Raise `SourceUnavailableError` unless the source answers a query."""
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
        return reflect_plans(self.engine, selection, tables=tables)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _connect_adbc(self):
        """A new ADBC connection (read-only), or `SourceUnavailableError`."""
        if self.dialect == "sqlite":
            import adbc_driver_sqlite.dbapi as adbc

            target = f"file:{self.sqlite_path}?mode=ro"
        else:
            import adbc_driver_postgresql.dbapi as adbc

            # libpq URIs decode %20, not '+': encode the query ourselves.
            query = {k: v for k, v in self.url.query.items() if isinstance(v, str)}
            query |= {"options": PG_OPTIONS, "connect_timeout": "10"}
            base = self.url.set(drivername="postgresql", query={})
            target = (
                base.render_as_string(hide_password=False) + "?" + urlencode(query, quote_via=quote)
            )
        try:
            return adbc.connect(target, autocommit=True)
        except Exception as exc:
            raise SourceUnavailableError(f"source {self.masked_url} is unavailable: {exc}") from exc

    @contextmanager
    def connected(self) -> Iterator[Source]:
        """Keep one connection open for the sessions inside (an ADBC PostgreSQL connect
        costs ~0.1 s: it loads the server's type catalog)."""
        if self.reader == "sqlalchemy" or self._shared is not None:
            yield self
            return
        self._shared = self._connect_adbc()
        try:
            yield self
        finally:
            conn, self._shared = self._shared, None
            try:
                conn.close()
            except Exception:
                pass

    @contextmanager
    def session(self) -> Iterator[ReadSession]:
        """One read-only snapshot for a table's data and key queries."""
        if self.reader == "sqlalchemy":
            with self.engine.connect() as conn:
                with conn.begin():
                    yield _SqlAlchemySession(self, conn)
            return
        shared = self._shared
        conn = shared if shared is not None else self._connect_adbc()
        kind = _SqliteSession if self.dialect == "sqlite" else _PostgresSession
        session: ReadSession = kind(self, conn)
        try:
            session.begin()
            yield session
        finally:
            session.end()
            if shared is None:
                try:
                    conn.close()
                except Exception:
                    pass


class ReadSession:
    """Queries of one snapshot. `rows` and `keys` return Arrow record batch readers."""

    def __init__(self, source: Source, conn) -> None:
        self.source = source
        self.conn = conn
        self._cursors: list = []

    def begin(self) -> None:
        pass

    def end(self) -> None:
        """Close this session's statements and end its read transaction."""
        for cur in self._cursors:
            try:
                cur.close()
            except Exception:
                pass
        self._cursors.clear()
        try:
            self.execute("ROLLBACK")  # a read-only transaction: nothing to keep
        except Exception:
            pass
        for cur in self._cursors:
            try:
                cur.close()
            except Exception:
                pass
        self._cursors.clear()

    def execute(self, sql: str, params=None) -> None:
        """Run a statement on the extraction connection (used by the read-only test)."""
        cur = self.conn.cursor()
        self._cursors.append(cur)
        cur.execute(sql, params)

    def rows(
        self, plan: TablePlan, since: object | None = None, keys: list | None = None
    ) -> pa.RecordBatchReader:
        """The table's rows: all, above the cursor `since`, or those with primary `keys`."""
        raise NotImplementedError

    def keys(
        self, plan: TablePlan, ranges: list[tuple[int, int]] | None = None
    ) -> pa.RecordBatchReader:
        """The primary keys: all, or those in the half-open integer `ranges`."""
        raise NotImplementedError

    def fetch(self, query: sa.Select | sa.CompoundSelect) -> list[tuple]:
        """A small result (aggregates), in this session's snapshot."""
        raise NotImplementedError

    #: Whether the bucket fingerprints are better computed by DuckDB from every key
    #: streamed than by the source. SQLite: a key-range search walks the table's own pages
    #: (whole rows), while a plain key scan reads the smallest covering index: 1.6 s
    #: against 14 s for 9.5M orders. PostgreSQL: a binary COPY of the keys into DuckDB's
    #: aggregate took half the time of the server's own GROUP BY (4.2 s against 8.1 s).
    stream_keys = False

    def key_range(self, plan: TablePlan) -> tuple[int | None, int | None]:
        """(lowest key, highest key): two primary-key lookups."""
        (pk,) = plan.primary_key
        col = plan.table.c[pk]
        low, high = (
            sa.select(f).select_from(plan.table).scalar_subquery()
            for f in (sa.func.min(col), sa.func.max(col))
        )
        (row,) = self.fetch(sa.select(low, high))
        return tuple(row)

    def delete_stamp(self, plan: TablePlan) -> str | None:
        """A value that changes whenever rows are deleted from the table, if the database
        keeps one (PostgreSQL); None otherwise."""
        return None

    def row_count(self, plan: TablePlan) -> int:
        (row,) = self.fetch(sa.select(sa.func.count()).select_from(plan.table))
        return int(row[0])

    def key_totals(self, plan: TablePlan) -> tuple[int, int, int, int | None, int | None]:
        """The whole table's key fingerprint and its lowest and highest key."""
        col, terms = _fingerprint_terms(plan)
        # min and max as separate subqueries: each one primary-key lookup, where inside
        # the aggregate they would cost per row.
        low = sa.select(sa.func.min(col)).select_from(plan.table).scalar_subquery()
        high = sa.select(sa.func.max(col)).select_from(plan.table).scalar_subquery()
        (row,) = self.fetch(sa.select(*terms, low, high).select_from(plan.table))
        return tuple(row)

    def key_fingerprints(self, plan: TablePlan, bits: int) -> dict[int, str]:
        """{bucket: "count sum sum2"} of the non-empty buckets `key >> bits` (see
        `reconcile`): one scan, grouped."""
        col, terms = _fingerprint_terms(plan)
        text = sa.cast(terms[0], sa.Text)
        for term in terms[1:]:
            text = text + " " + sa.cast(term, sa.Text)
        bucket = sa.cast(col, sa.BigInteger).op(">>")(sa.literal(bits, sa.Integer))
        query = (
            sa.select(bucket.label("bucket"), text.label("fp"))
            .select_from(plan.table)
            .group_by(sa.literal_column("bucket"))
        )
        return {int(b): fp for b, fp in self.fetch(query) if fp != "0 0 0"}


def _fingerprint_terms(plan: TablePlan):
    """(key column, [count, sum(key), sum((key & 0xFFFF)²)]) — as `reconcile.fingerprint`."""
    (pk,) = plan.primary_key
    col = plan.table.c[pk]
    # BIGINT arithmetic (PostgreSQL would overflow an INTEGER square); the sums come back
    # as BIGINT (PostgreSQL's sum of a BIGINT is NUMERIC).
    key = col if plan.dialect == "sqlite" else sa.cast(col, sa.BigInteger)
    low = key.op("&")(sa.literal(0xFFFF, sa.BigInteger))
    terms = [
        sa.func.count(),
        sa.cast(sa.func.coalesce(sa.func.sum(key), 0), sa.BigInteger),
        sa.cast(sa.func.coalesce(sa.func.sum(low * low), 0), sa.BigInteger),
    ]
    return col, terms


def key_range_condition(plan: TablePlan, ranges: list[tuple[int, int]] | None, table: sa.Table):
    """`key >= :low AND key < :high OR …` for half-open `ranges` (None: every key)."""
    if ranges is None:
        return None
    (pk,) = plan.primary_key
    col = table.c[pk]
    return sa.or_(
        *[
            sa.and_(col >= sa.literal(lo, sa.BigInteger), col < sa.literal(hi, sa.BigInteger))
            for lo, hi in ranges
        ]
    )


def row_condition(plan: TablePlan, since: object | None, keys: list | None, table: sa.Table):
    """The cursor condition, or `pk IN (:keys)` (an expanding bound parameter)."""
    if keys is None:
        return cursor_condition(plan, since, table)
    (pk,) = plan.primary_key
    return table.c[pk].in_(sa.bindparam("keys", list(keys), expanding=True))


def cursor_condition(plan: TablePlan, since: object | None, table: sa.Table):
    """The cursor as a SQLAlchemy expression with a bound parameter (None: read all).

    Merge tables read `updated_at >= since` (the caller has already subtracted the
    lookback; `>=` because a re-read unchanged row is harmless and a missed one is not);
    append tables read `id > since`.
    """
    if since is None or plan.cursor is None:
        return None
    col = table.c[plan.cursor]
    if plan.mode == "append":
        return col > sa.bindparam("after", int(since), type_=col.type)
    since = _utc(since)
    if plan.dialect == "sqlite":
        # Django writes ISO text with or without 'T', fraction and offset, so text order is
        # not time order; julianday() parses every form (and applies the offset). The
        # day-earlier prefix compare keeps the index usable: each form starts YYYY-MM-DD.
        day = (since - dt.timedelta(days=1)).strftime("%Y-%m-%d")
        wm = since.strftime("%Y-%m-%d %H:%M:%S.%f")
        return sa.and_(
            col >= sa.bindparam("since_day", day, type_=sa.String),
            sa.func.julianday(col) >= sa.func.julianday(sa.bindparam("since", wm, type_=sa.String)),
        )
    return col >= sa.bindparam("since", since, type_=sa.DateTime(timezone=True))


def _utc(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"a timestamp watermark is needed, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


# -- SQLite ----------------------------------------------------------------------------

_SQLITE_CAST = {
    INTEGER: (sa.Integer, "0"),
    BOOLEAN: (sa.Integer, "0"),
    DECIMAL: (sa.Float, "0.0"),  # NUMERIC affinity keeps fractions as REAL: rounded later
    FLOAT: (sa.Float, "0.0"),
    DATE: (sa.Text, "''"),
    TIMESTAMP: (sa.Text, "''"),
    TEXT: (sa.Text, "''"),
}
_HINT = "__mealytics_hint"


def sqlite_query(dialect, columns: list[tuple[str, str]], table: sa.Table, where) -> tuple:
    """(SQL, parameters) of the SQLite reader: the typed hint row, then the rows `where`
    selects, each column CAST to one storage class. The CASTs are in the select list
    only, so the WHERE (the cursor, key ranges) still uses the table's indexes."""
    hint = sa.select(
        sa.literal_column("0").label(_HINT),
        *[sa.literal_column(_SQLITE_CAST[kind][1]).label(name) for name, kind in columns],
    )
    body = sa.select(
        sa.literal_column("1").label(_HINT),
        *[sa.cast(table.c[name], _SQLITE_CAST[kind][0]).label(name) for name, kind in columns],
    ).select_from(table)
    if where is not None:
        body = body.where(where)
    compiled = sa.union_all(hint, body).compile(
        dialect=dialect, compile_kwargs={"render_postcompile": True}
    )
    return str(compiled), tuple(compiled.params[k] for k in (compiled.positiontup or ()))


class _SqliteSession(ReadSession):
    stream_keys = True

    def begin(self) -> None:
        # One read transaction: the key query sees the same snapshot as the data query.
        self.execute("BEGIN")

    def _stream(
        self, columns: list[tuple[str, str]], table: sa.Table, where
    ) -> pa.RecordBatchReader:
        sql, params = sqlite_query(self.source.engine.dialect, columns, table, where)
        cur = self.conn.cursor()
        self._cursors.append(cur)
        cur.adbc_statement.set_options(
            **{"adbc.sqlite.query.batch_rows": str(self.source.batch_rows)}
        )
        cur.execute(sql, params or None)
        reader = cur.fetch_record_batch()
        return _sqlite_batches(reader, {n for n, k in columns if k == TIMESTAMP})

    def rows(
        self, plan: TablePlan, since: object | None = None, keys: list | None = None
    ) -> pa.RecordBatchReader:
        table = plan.table
        cols = [(c.name, c.kind) for c in plan.columns]
        return self._stream(cols, table, row_condition(plan, since, keys, table))

    def keys(
        self, plan: TablePlan, ranges: list[tuple[int, int]] | None = None
    ) -> pa.RecordBatchReader:
        cols = [(k, plan.column(k).kind) for k in plan.primary_key]
        return self._stream(cols, plan.table, key_range_condition(plan, ranges, plan.table))

    def fetch(self, query) -> list[tuple]:
        compiled = query.compile(
            dialect=self.source.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        params = tuple(compiled.params[k] for k in (compiled.positiontup or ()))
        cur = self.conn.cursor()
        self._cursors.append(cur)
        cur.execute(str(compiled), params or None)
        return cur.fetchall()


_UTC_US = pa.timestamp("us", tz="UTC")
_OFFSET = r"(Z|z|[+-]\d\d(:?\d\d)?)$"


def parse_timestamps(text: pa.Array) -> pa.Array:
    """ISO-8601 text as Django writes it on SQLite → timestamp[us, UTC].

    With or without 'T', fraction, 'Z' or an offset (applied); text without an offset is
    UTC. Arrow's parser is vectorized and releases the GIL, so this runs in the reader
    thread, in parallel with DuckDB's ingest.
    """
    try:  # Django's own form: no offset, UTC implied
        return pc.cast(text, pa.timestamp("us")).cast(_UTC_US)
    except pa.ArrowInvalid:
        pass
    has_offset = pc.match_substring_regex(text, _OFFSET)
    with_offset = pc.if_else(
        pc.fill_null(has_offset, True), text, pc.binary_join_element_wise(text, "+00:00", "")
    )
    return pc.cast(with_offset, _UTC_US)


def _sqlite_batches(reader: pa.RecordBatchReader, timestamps: set[str]) -> pa.RecordBatchReader:
    """Drop the type hint row and column; parse timestamp text."""
    fields = [pa.field(f.name, _UTC_US) if f.name in timestamps else f for f in reader.schema][1:]
    schema = pa.schema(fields)

    def batches() -> Iterator[pa.RecordBatch]:
        first = True
        for batch in reader:
            if first:
                first = False
                if batch.num_rows == 0 or batch.column(0)[0].as_py() != 0:
                    raise RuntimeError("SQLite reader: the type hint row did not come first")
                batch = batch.slice(1)
            if batch.num_rows:
                cols = [
                    parse_timestamps(col) if name in timestamps else col
                    for name, col in zip(batch.schema.names[1:], batch.columns[1:], strict=True)
                ]
                yield pa.RecordBatch.from_arrays(cols, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


# -- PostgreSQL ------------------------------------------------------------------------


class _PostgresSession(ReadSession):
    stream_keys = True

    def begin(self) -> None:
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

    def _stream(self, query: sa.Select) -> pa.RecordBatchReader:
        # COPY takes no parameters: SQLAlchemy renders the bound values as typed literals.
        sql = str(
            query.compile(
                dialect=self.source.engine.dialect, compile_kwargs={"literal_binds": True}
            )
        )
        cur = self.conn.cursor()
        self._cursors.append(cur)
        cur.execute(sql)
        return cur.fetch_record_batch()

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
        self, plan: TablePlan, since: object | None = None, keys: list | None = None
    ) -> pa.RecordBatchReader:
        q = sa.select(*self._select_columns(plan, plan.column_names)).select_from(plan.table)
        cond = row_condition(plan, since, keys, plan.table)
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


# -- portable SQLAlchemy path ----------------------------------------------------------

_ARROW = {
    INTEGER: pa.int64(),
    BOOLEAN: pa.bool_(),
    DECIMAL: pa.string(),
    FLOAT: pa.float64(),
    DATE: pa.date32(),
    TIMESTAMP: pa.timestamp("us", tz="UTC"),
    TEXT: pa.string(),
}


class _SqlAlchemySession(ReadSession):
    def _stream(self, plan: TablePlan, names, query) -> pa.RecordBatchReader:
        kinds = [plan.column(n).kind for n in names]
        schema = pa.schema([(n, _ARROW[k]) for n, k in zip(names, kinds, strict=True)])
        result = self.conn.execution_options(
            stream_results=True, yield_per=self.source.batch_rows
        ).execute(query)

        def convert(kind: str, values: tuple) -> pa.Array:
            if kind in (DECIMAL, TEXT):
                values = [None if v is None else str(v) for v in values]
            elif kind == TIMESTAMP:
                if any(isinstance(v, str) for v in values):  # SQLite text, any ISO form
                    text = [v if v is None or isinstance(v, str) else _utc(v).isoformat()
                            for v in values]  # fmt: skip
                    return parse_timestamps(pa.array(text, pa.string()))
                values = [None if v is None else _utc(v) for v in values]
            elif kind == DATE and any(isinstance(v, str) for v in values):
                return pc.cast(pa.array(values, pa.string()), pa.date32())
            return pa.array(values, type=_ARROW[kind])

        def batches() -> Iterator[pa.RecordBatch]:
            for chunk in result.partitions(self.source.batch_rows):
                cols = list(zip(*chunk, strict=True))
                yield pa.RecordBatch.from_arrays(
                    [convert(k, c) for k, c in zip(kinds, cols, strict=True)], schema=schema
                )

        return pa.RecordBatchReader.from_batches(schema, batches())

    def _column(self, plan: TablePlan, name: str):
        col = plan.table.c[name]
        if plan.dialect == "sqlite" and plan.column(name).kind in (TIMESTAMP, DATE, DECIMAL):
            # SQLAlchemy's SQLite processors parse one text form only (and go through
            # float for NUMERIC): take the stored value as it is, convert it here.
            return sa.type_coerce(col, sa.String).label(name)
        return col

    def rows(
        self, plan: TablePlan, since: object | None = None, keys: list | None = None
    ) -> pa.RecordBatchReader:
        q = sa.select(*[self._column(plan, n) for n in plan.column_names])
        cond = row_condition(plan, since, keys, plan.table)
        if cond is not None:
            q = q.where(cond)
        return self._stream(plan, plan.column_names, q)

    def keys(
        self, plan: TablePlan, ranges: list[tuple[int, int]] | None = None
    ) -> pa.RecordBatchReader:
        q = sa.select(*[plan.table.c[k] for k in plan.primary_key])
        cond = key_range_condition(plan, ranges, plan.table)
        return self._stream(plan, plan.primary_key, q if cond is None else q.where(cond))

    def fetch(self, query) -> list[tuple]:
        return [tuple(r) for r in self.conn.execute(query)]

    def execute(self, sql: str, params=None) -> None:
        self.conn.exec_driver_sql(sql, params or ())


# -- overlap: a reader thread feeding a bounded queue ------------------------------------

_DONE = object()


def prefetch(
    reader: pa.RecordBatchReader,
    *,
    depth: int = 4,
    on_batch: Callable[[pa.RecordBatch], None] | None = None,
    errors: list[BaseException] | None = None,
) -> pa.RecordBatchReader:
    """The same stream, read ahead by a thread into a queue of at most `depth` batches.

    Reading the source and writing DuckDB then overlap, and memory stays bounded by
    `depth` batches. `on_batch` runs in the consuming thread for each batch (counting,
    and the tests' crash injection). An error on either side stops the other; an error
    raised in the stream is also appended to `errors`, because the consumer (DuckDB)
    reports it wrapped in its own exception.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in reader:
                while not stop.is_set():
                    try:
                        q.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item: object = _DONE
        except BaseException as exc:  # handed to the consumer, which re-raises it
            item = exc
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=produce, name="extract-reader", daemon=True)

    def consume() -> Iterator[pa.RecordBatch]:
        thread.start()
        try:
            while True:
                item = q.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                if on_batch is not None:
                    on_batch(item)
                yield item
        except BaseException as exc:
            if errors is not None:
                errors.append(exc)
            raise
        finally:
            stop.set()
            thread.join(timeout=30)

    return pa.RecordBatchReader.from_batches(reader.schema, consume())
