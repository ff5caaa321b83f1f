"""The portable reader: anything SQLAlchemy can reach, through a streaming cursor chunked
into Arrow batches (slower than ADBC: it builds Python objects per row).

On PostgreSQL the connection speaks UTF-8 (`source._read_only_engine`): the server
transcodes text of any encoding, except a SQL_ASCII database's, which it would refuse to
send if it is not UTF-8 (failing the table): there text columns are read as their bytes
(`convert_to(…, 'SQL_ASCII')` converts nothing), for the guard to NULL and record those
that are not UTF-8, as the ADBC reader's are.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from pipelines.extract.plan import (
    BINARY,
    BOOLEAN,
    DATE,
    DECIMAL,
    FLOAT,
    INTEGER,
    TEXT,
    TIMESTAMP,
    TablePlan,
)
from pipelines.extract.readers.base import ReadSession
from pipelines.extract.readers.conditions import key_range_condition, row_condition, utc
from pipelines.extract.readers.timestamps import parse_timestamps

_ARROW = {
    INTEGER: pa.int64(),
    BOOLEAN: pa.bool_(),
    DECIMAL: pa.string(),
    FLOAT: pa.float64(),
    DATE: pa.date32(),
    TIMESTAMP: pa.timestamp("us", tz="UTC"),
    TEXT: pa.string(),
    BINARY: pa.binary(),
}


def to_arrow(kind: str, values: tuple) -> pa.Array:
    """One column of a chunk of rows, as the Arrow type of its kind."""
    if kind == TEXT and any(isinstance(v, bytes) for v in values):
        # A SQL_ASCII database's bytes, as they are: the guard NULLs what is not UTF-8.
        return pa.array(values, pa.binary()).view(pa.string())
    if kind in (DECIMAL, TEXT):
        # A float's str() is its shortest round-trip decimal (repr), never its expansion.
        values = [None if v is None else str(v) for v in values]
    elif kind == TIMESTAMP:
        if any(isinstance(v, str) for v in values):  # SQLite text, any ISO form
            text = [v if v is None or isinstance(v, str) else utc(v).isoformat() for v in values]
            return parse_timestamps(pa.array(text, pa.string()))
        values = [None if v is None else utc(v) for v in values]
    elif kind == BINARY:
        values = [None if v is None else bytes(v) for v in values]
    elif kind == DATE and any(isinstance(v, str) for v in values):
        return pc.cast(pa.array(values, pa.string()), pa.date32())
    return pa.array(values, type=_ARROW[kind])


class PortableSession(ReadSession):
    #: Each session opens its own connection from the engine (a NullPool: nothing kept).
    shares_connection = False

    def __init__(self, source, conn: sa.Connection) -> None:
        super().__init__(source, conn)
        self._transaction: sa.RootTransaction | None = None
        #: Text columns are read as their bytes (a SQL_ASCII PostgreSQL database).
        self._text_as_bytes = False

    @classmethod
    def connect(cls, source) -> sa.Connection:
        return source.engine.connect()

    def begin(self) -> None:
        self._transaction = self.conn.begin()
        if self.source.dialect == "postgresql":
            encoding = self.conn.exec_driver_sql("SHOW server_encoding").scalar()
            self._text_as_bytes = encoding == "SQL_ASCII"

    def end(self) -> None:
        if self._transaction is None or not self._transaction.is_active:
            return
        try:
            self._transaction.rollback()  # a read-only transaction: nothing to keep
        except sa.exc.DBAPIError:
            pass  # the connection is gone: nothing to roll back; the session's error counts

    def _stream(self, plan: TablePlan, names, query) -> pa.RecordBatchReader:
        kinds = [plan.column(n).kind for n in names]
        schema = pa.schema([(n, _ARROW[k]) for n, k in zip(names, kinds, strict=True)])
        result = self.conn.execution_options(
            stream_results=True, yield_per=self.source.batch_rows
        ).execute(query)

        def batches() -> Iterator[pa.RecordBatch]:
            for chunk in result.partitions(self.source.batch_rows):
                cols = list(zip(*chunk, strict=True))
                yield pa.RecordBatch.from_arrays(
                    [to_arrow(k, c) for k, c in zip(kinds, cols, strict=True)], schema=schema
                )

        return pa.RecordBatchReader.from_batches(schema, batches())

    def _column(self, plan: TablePlan, name: str):
        col = plan.table.c[name]
        if self._text_as_bytes and isinstance(col.type, (sa.Text, sa.VARCHAR)):
            raw = sa.func.convert_to(col, sa.literal("SQL_ASCII"), type_=sa.LargeBinary)
            return raw.label(name)
        if plan.dialect == "sqlite" and plan.column(name).kind in (TIMESTAMP, DATE, DECIMAL):
            # SQLAlchemy's SQLite processors parse one text form only (and go through
            # float for NUMERIC): take the stored value as it is, convert it here.
            return sa.type_coerce(col, sa.String).label(name)
        if plan.column(name).kind == DECIMAL:
            # The driver's own value (a Decimal, or a float), not SQLAlchemy's: its
            # Numeric turns a driver's float into a Decimal through '%.10f', the binary
            # expansion. `to_arrow` keeps a float's shortest text (`str`), exactly.
            return sa.type_coerce(col, sa.types.NullType()).label(name)
        return col

    def rows(
        self,
        plan: TablePlan,
        since: object | None = None,
        keys: list | None = None,
        ranges: list[tuple[int, int]] | None = None,
    ) -> pa.RecordBatchReader:
        q = sa.select(*[self._column(plan, n) for n in plan.column_names])
        cond = row_condition(plan, since, keys, plan.table, ranges)
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
