"""The table loop: every selected table in turn, each in its own transaction, with retries.

One loop for every caller: the raw asset (`pipelines.defs.raw`) iterates `extract_tables`
and turns each outcome into a materialization or a named failure; `extract_all` (tests,
benchmarks, scripts) gathers the same outcomes into an `ExtractReport`.

- One warehouse connection for the run (a DuckDB file has a single writer), one source
  connection shared by the tables' sessions (`Source.connected`).
- A table whose source fault passes (`retry`) is tried again on a new connection: the
  shared one may be what the server dropped. Its load is one transaction, so a failed
  attempt left nothing behind.
- A table that fails is reported and the next one goes on; but once a fault of the whole
  source (unreachable, connection lost, the file locked) has outlived its retries, the
  remaining tables are not tried: they would fail the same way, each after its retries.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

import duckdb

from pipelines.errors import TableNotInSourceError
from pipelines.extract import replicate
from pipelines.extract import warehouse as wh
from pipelines.extract.options import DEFAULT_OPTIONS, ExtractOptions
from pipelines.extract.plan import TablePlan, TableSelection
from pipelines.extract.replicate import TableResult
from pipelines.extract.retry import NO_RETRIES, RetryPolicy, is_source_wide
from pipelines.extract.source import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableFailure:
    """A table that did not load; raw, its audit trail and its watermark are unchanged."""

    table: str
    error: BaseException
    #: The table whose fault of the whole source stopped the loop before this one.
    not_tried_after: str | None = None

    @property
    def message(self) -> str:
        text = f"{type(self.error).__name__}: {self.error}"
        if self.not_tried_after is None:
            return text
        return f"not tried: the source failed on {self.not_tried_after}: {text}"


def _extract_one(
    source: Source,
    con: duckdb.DuckDBPyConnection,
    plan: TablePlan,
    options: ExtractOptions,
    retry: RetryPolicy,
) -> TableResult:
    def attempt(n: int) -> TableResult:
        with source.session(fresh=n > 0) as session:
            # Looked up on the module: the tests wrap it to follow the loop.
            return replicate.extract_table(con, session, plan, options)

    return retry.call(f"raw.{plan.name}", attempt)


def extract_tables(
    source: Source,
    warehouse: str | os.PathLike,
    plans: Iterable[TablePlan],
    options: ExtractOptions = DEFAULT_OPTIONS,
    *,
    tables: Sequence[str] | None = None,
    retry: RetryPolicy = NO_RETRIES,
    memory_limit: str | None = None,
) -> Iterator[TableResult | TableFailure]:
    """Extract `tables` (default: every plan's, by name) into `warehouse`, one outcome each.

    A table without a plan (gone from the source) fails alone. Connecting to the source
    is retried too; if it still fails, `SourceUnavailableError` is raised before the
    warehouse is opened.
    """
    by_name = {p.name: p for p in plans}
    names = list(tables) if tables is not None else sorted(by_name)
    with ExitStack() as stack:
        retry.call("the source", lambda _: stack.enter_context(source.connected()))
        con = wh.connect(str(warehouse), memory_limit=memory_limit)
        stack.callback(con.close)
        down: TableFailure | None = None
        for name in names:
            outcome = _outcome(source, con, by_name.get(name), name, options, retry, down)
            if down is None and isinstance(outcome, TableFailure) and is_source_wide(outcome.error):
                down = outcome
            yield outcome


def _outcome(
    source: Source,
    con: duckdb.DuckDBPyConnection,
    plan: TablePlan | None,
    name: str,
    options: ExtractOptions,
    retry: RetryPolicy,
    down: TableFailure | None,
) -> TableResult | TableFailure:
    """One table's outcome; not tried at all once the source is `down`."""
    if down is not None:
        return TableFailure(name, down.error, not_tried_after=down.table)
    if plan is None:
        gone = TableNotInSourceError(f"table {name!r} is no longer in the source")
        return TableFailure(name, gone)
    try:
        return _extract_one(source, con, plan, options, retry)
    except Exception as exc:  # reported as the table's failure; the next table goes on
        return TableFailure(name, exc)


@dataclass
class ExtractReport:
    results: dict[str, TableResult] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, outcome: TableResult | TableFailure) -> None:
        if isinstance(outcome, TableFailure):
            self.errors[outcome.table] = outcome.error
        else:
            self.results[outcome.table] = outcome


def extract_all(
    source: Source | str,
    warehouse: str | os.PathLike,
    *,
    options: ExtractOptions = DEFAULT_OPTIONS,
    selection: TableSelection | None = None,
    tables: list[str] | None = None,
    memory_limit: str | None = None,
    retry: RetryPolicy = NO_RETRIES,
) -> ExtractReport:
    """Reflect the source and extract every selected table; a failing table is reported,
    the others still load. No retries unless `retry` says so (the raw asset's: 3).

    An unreachable source raises `SourceUnavailableError` before the warehouse is opened.
    """
    source = Source(source) if isinstance(source, str) else source
    plans = retry.call("the source", lambda _: source.plans(selection, tables=tables))
    report = ExtractReport()
    for outcome in extract_tables(
        source, warehouse, plans, options, retry=retry, memory_limit=memory_limit
    ):
        if isinstance(outcome, TableFailure):
            log.error("raw.%s failed: %s", outcome.table, outcome.message, exc_info=outcome.error)
        report.add(outcome)
    return report
