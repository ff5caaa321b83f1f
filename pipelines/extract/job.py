"""One table's extraction in progress: what the steps of `replicate` share.

The warehouse connection and the source session, the table's plan and previous state,
the run's options, id and clock, and what the source streams: each stream is read ahead
by a thread (`stream.prefetch`), counted, and shown to DuckDB as a view for one
statement. An error raised inside a stream is kept (`errors`), because DuckDB reports it
wrapped in its own exception.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from pipelines.extract import guard
from pipelines.extract import merge_sql as sql
from pipelines.extract import warehouse as wh
from pipelines.extract.changes import ChangeLog
from pipelines.extract.options import ExtractOptions
from pipelines.extract.plan import TablePlan, quote
from pipelines.extract.readers import ReadSession
from pipelines.extract.state import SyncState
from pipelines.extract.stream import prefetch, registered, unregister

#: The view a stream from the source is registered under while DuckDB reads it.
SOURCE_VIEW = "__extract_source"
#: Every view a table's load registers (unregistered again after a rollback).
VIEWS = (SOURCE_VIEW, "__extract_scope", "__extract_backfill")


@dataclass
class TableJob:
    con: duckdb.DuckDBPyConnection
    session: ReadSession
    plan: TablePlan
    options: ExtractOptions
    run_id: str
    now: dt.datetime
    state: SyncState | None
    #: Errors raised inside the source's streams, first first.
    errors: list[BaseException] = field(default_factory=list)
    #: Rows of the table read in the data stream (not keys).
    rows_read: int = 0
    #: What the streams' guard refused (NULL keys, decimals that break their type),
    #: written after each statement that consumed a stream (`guard.flush`).
    refusals: guard.Refusals = field(default_factory=guard.Refusals)
    #: The read's snapshot xids on PostgreSQL's xmin cursor (`xmin.XidSnapshot`), else None.
    xid: object | None = None
    #: What the table's transaction changed in raw, for `meta._changes` (`changes`).
    changes: ChangeLog = field(init=False)

    def __post_init__(self) -> None:
        self.changes = ChangeLog(
            self.con,
            self.plan,
            self.run_id,
            self.now,
            max_share=self.options.change_log_max_share,
            min_rows=self.options.change_log_min_rows,
        )

    @property
    def target(self) -> str:
        return f"{wh.RAW}.{quote(self.plan.name)}"

    def run(self, statement: str, params=None) -> list[tuple]:
        return wh.run(self.con, statement, params)

    def scalar(self, statement: str):
        return self.run(statement)[0][0]

    def _count(self, batch: pa.RecordBatch) -> None:
        self.rows_read += batch.num_rows
        if self.options.on_batch is not None:
            self.options.on_batch(batch)

    def stream(self, reader: pa.RecordBatchReader, *, counted: bool = False, keys: bool = False):
        """`reader` read ahead by a thread, through the guard (`guard.guarded`: exact
        decimals, rows with a NULL key refused); `counted`: the table's rows (rows_read,
        on_batch); `keys`: a stream of keys only (a NULL key is dropped, not recorded)."""
        return prefetch(
            guard.guarded(reader, self.plan, self.refusals, keys=keys),
            depth=self.options.queue_depth,
            on_batch=self._count if counted else None,
            errors=self.errors,
        )

    def ingest(
        self,
        reader: pa.RecordBatchReader,
        statement: Callable[[str], str],
        *,
        names=None,
        view: str = SOURCE_VIEW,
    ) -> list[tuple]:
        """Run `statement(typed select of the stream)`: the stream's `names` (default:
        every column) cast to their warehouse types."""
        names = self.plan.column_names if names is None else names
        types = {f.name: f.type for f in reader.schema}
        with registered(self.con, view, reader):
            result = self.run(statement(sql.select_typed(self.plan, names, types, view)))
        guard.flush(self.con, self.plan, self.refusals, self.run_id)
        return result

    def forget_views(self) -> None:
        """Unregister every stream's view (after a rollback, which refuses it before)."""
        for view in VIEWS:
            unregister(self.con, view)
