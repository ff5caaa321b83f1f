"""Replicating one source table into `raw.<table>`: incremental, atomic, delete-aware.

Per table, in ONE DuckDB transaction, each step in its own module:

1. Schema drift (`drift`): new source columns are added, safe widenings applied; an
   incompatible type change fails this table before anything is read.
2. The window (`state.plan_window`): `merge` tables `updated_at >= watermark − lookback`,
   `append` ledgers `id > watermark`; the first run and a full refresh read everything.
   The rows arrive as Arrow batches read ahead by a thread (`stream`): Python holds at
   most batch size × queue depth rows, whatever the table's size; DuckDB's own buffer
   pool is capped by its `memory_limit` (see `warehouse.connect`).
3. Stage them (typed: DECIMAL, TIMESTAMPTZ in UTC, BOOLEAN, DATE) and merge by primary
   key (`merge`); a first copy into an empty table inserts directly.
4. Hard deletes (`deletes`): when the probe fires or the cadence is due, reconcile the
   primary keys, delete and audit what the source no longer has, backfill what the
   cursor missed.
5. Write `meta._sync_state` (`state`: the watermark, capped at the run's start against
   future-dated rows; counts), COMMIT.

Each step that changes raw's rows first logs the change in `meta._changes` (`changes`:
inserted, updated and deleted keys with the rows before, or one 'all' row), in the same
transaction.

A crash anywhere before COMMIT rolls everything back: raw, the audit trail and the
watermark stay at the previous run, and the next run reads the same window again, so
nothing is lost or duplicated. The statements themselves are built by `merge_sql`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import asdict, dataclass, replace

import duckdb

from pipelines.extract import content, deletes, drift, merge, rejects, state, xmin
from pipelines.extract import merge_sql as sql
from pipelines.extract import warehouse as wh
from pipelines.extract.job import TableJob
from pipelines.extract.options import DEFAULT_OPTIONS, ExtractOptions
from pipelines.extract.plan import TablePlan
from pipelines.extract.readers import ReadSession

log = logging.getLogger(__name__)

STAGE = "__extract_stage"


@dataclass(frozen=True)
class TableResult:
    table: str
    mode: str
    full_refresh: bool
    rows_read: int
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    row_count: int
    watermark: str | None
    duration_s: float
    delete_checked: bool
    #: Why the keys were (or were not) reconciled: "full copy", "cadence", "probe: …",
    #: "probe: quiet", "cadence not due".
    delete_check_reason: str = ""
    #: Rows the cursor missed but key reconciliation found (counted in rows_inserted too).
    rows_backfilled: int = 0
    columns_added: tuple[str, ...] = ()
    columns_dropped: tuple[str, ...] = ()
    columns_widened: tuple[str, ...] = ()
    #: Whether the full rows were reconciled with the source this run (`content`), what it
    #: found, and how many rows it repaired (counted in the inserted/updated/deleted too).
    content_checked: bool = False
    content_check_reason: str = ""
    rows_repaired: int = 0
    #: PostgreSQL's xmin cursor (`xmin`): the 64-bit xid the next read starts from; None
    #: when the table is read by its `updated_at` or id cursor.
    xid_watermark: int | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows_read / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "rows_per_s": round(self.rows_per_s, 1)}


@dataclass(frozen=True)
class Loaded:
    """What a table's load did inside its transaction."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    backfilled: int = 0
    #: The highest cursor value read (before the future cap).
    high: object | None = None
    #: Whether the keys were reconciled, and why (or why not).
    checked: bool = False
    reason: str = ""
    #: The content reconciliation's findings, if it ran.
    content: content.ContentCheck | None = None


def extract_table(
    con: duckdb.DuckDBPyConnection,
    session: ReadSession,
    plan: TablePlan,
    options: ExtractOptions = DEFAULT_OPTIONS,
) -> TableResult:
    """Bring `raw.<plan.name>` up to date with the source table, atomically.

    Timestamp or date text that does not parse (SQLite): the table is extracted again,
    such values NULL and recorded in `meta._rejected_values` (see `rejects`)."""
    return rejects.extract_tolerantly(_extract_table, con, session, plan, options)


def _extract_table(
    con: duckdb.DuckDBPyConnection,
    session: ReadSession,
    plan: TablePlan,
    options: ExtractOptions,
) -> TableResult:
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    previous = state.read_state(con, plan.name)
    existing = wh.raw_columns(con, plan.name)
    changes = drift.compare(plan, existing) if existing is not None else drift.Drift()
    window = state.plan_window(plan, previous, existing is not None, options, now)
    run_id = options.run_id or uuid.uuid4().hex
    job = TableJob(con, session, plan, options, run_id, now, previous)
    # The probe's stamp is read before this session's snapshot, so a delete it misses
    # is in the next run's stamp (see `PostgresSession.delete_stamp`).
    stamp = session.delete_stamp(plan) if plan.primary_key else None
    window = xmin.window(job, window, existing is not None)
    wh.run(con, "BEGIN TRANSACTION")
    try:
        _follow_schema(job, existing, changes)
        loaded = _load(job, window, stamp, created=existing is None)
        job.changes.finish()
        marks = _write_state(job, window, loaded, stamp, started)
        if options.before_commit is not None:
            options.before_commit(con, job.run_id)
        wh.run(con, "COMMIT")
    except BaseException as exc:
        _roll_back(job)
        if job.errors and job.errors[0] is not exc:
            # DuckDB wraps an error raised while it read the stream: surface the original.
            raise job.errors[0] from exc
        raise
    result = _result(job, window, loaded, marks, changes, started)
    log.info("raw.%s: %s", plan.name, result.as_dict())
    return result


def _follow_schema(job: TableJob, existing: dict[str, str] | None, changes: drift.Drift) -> None:
    """Raw's table created, or its columns made to follow the source's; a column added or
    retyped changes the whole table for the change log (a dropped one stays in raw)."""
    if existing is None:
        wh.create_table(job.con, job.plan)
    elif changes:
        drift.apply_drift(job.con, job.plan, changes)
        if changes.added or changes.widened:
            job.changes.all()


def _roll_back(job: TableJob) -> None:
    try:
        wh.run(job.con, "ROLLBACK")
    except duckdb.Error:
        pass  # no transaction left to roll back (COMMIT itself failed)
    job.forget_views()


def _load(job: TableJob, window: state.Window, stamp: str | None, *, created: bool) -> Loaded:
    """The table's rows into raw (first copy, or staged and merged), then its deletes."""
    loaded = Loaded(checked=window.due, reason=window.reason)
    # A copy of everything into an empty table needs no staging, merge or key check.
    if window.since is None and (created or job.scalar(sql.is_empty(job.target))):
        return _copy_into_empty(job, loaded, created)
    reader = job.stream(job.session.rows(job.plan, window.since), counted=True)
    job.ingest(reader, lambda select: sql.create_temp(STAGE, select))
    loaded = _merge_stage(job, window, loaded)
    job.run(sql.drop_table(STAGE))
    return _reconcile(job, window, loaded, stamp)


def _copy_into_empty(job: TableJob, loaded: Loaded, created: bool) -> Loaded:
    plan = job.plan
    reader = job.stream(job.session.rows(plan, None), counted=True)
    job.ingest(reader, lambda select: sql.insert_select(job.target, plan.column_names, select))
    high = job.scalar(sql.max_of(job.target, plan.cursor)) if plan.cursor else None
    if created or job.rows_read:
        job.changes.all()  # a whole table copied: one 'all', not a row per key
    return replace(loaded, inserted=job.rows_read, high=high)


def _merge_stage(job: TableJob, window: state.Window, loaded: Loaded) -> Loaded:
    """The staged rows into raw: merged by key (a full copy's stage also says which keys
    are gone), or swapped in whole without a key."""
    plan = job.plan
    high = job.scalar(sql.max_of(STAGE, plan.cursor)) if plan.cursor else None
    if not plan.primary_key:
        deleted, inserted = merge.replace(job, STAGE)
        return replace(loaded, inserted=inserted, deleted=deleted, high=high)
    # The stage of a full copy holds every source row: raw keys absent from it were deleted.
    deleted = deletes.record_deletes(job, STAGE) if window.full else 0
    reread = None if window.full else _reread(job)
    inserted, updated = merge.merge(job, STAGE, reread)
    return replace(loaded, inserted=inserted, updated=updated, deleted=deleted, high=high)


def _reread(job: TableJob) -> str:
    if job.xid is not None:
        return xmin.reread_condition(job.plan, job.state)
    previous = job.state
    watermark = previous.watermark_ts if previous else None
    last_run_at = previous.last_run_at if previous else None
    return sql.reread_condition(job.plan, watermark, last_run_at)


def _reconcile(job: TableJob, window: state.Window, loaded: Loaded, stamp: str | None) -> Loaded:
    """After an incremental merge: the content reconciliation when its cadence is due
    (it finds deletes and missed rows too); otherwise the probe (unless the key cadence is
    due anyway), then the key reconciliation if either says so."""
    if window.full or not job.plan.primary_key:
        return loaded
    if content.due(job.state, job.options, job.now):
        return _reconcile_content(job, loaded)
    if not loaded.checked and job.options.delete_probe:
        reason = deletes.probe(job, stamp)
        loaded = replace(loaded, checked=reason != deletes.QUIET, reason=reason)
    if not loaded.checked:
        return loaded
    deleted, backfilled = deletes.reconcile_keys(job)
    return replace(
        loaded, deleted=deleted, backfilled=backfilled, inserted=loaded.inserted + backfilled
    )


def _reconcile_content(job: TableJob, loaded: Loaded) -> Loaded:
    found = content.reconcile_content(job)
    return replace(
        loaded,
        checked=True,
        reason=found.reason,
        content=found,
        inserted=loaded.inserted + found.inserted,
        updated=loaded.updated + found.updated,
        deleted=loaded.deleted + found.deleted,
    )


@dataclass(frozen=True)
class _Marks:
    watermark_ts: dt.datetime | None
    watermark_id: int | None
    row_count: int


def _write_state(
    job: TableJob, window: state.Window, loaded: Loaded, stamp: str | None, started: float
) -> _Marks:
    """The table's new state row (watermark, counts), inside its transaction."""
    plan, previous, now = job.plan, job.state, job.now
    high = state.cap_future(plan, loaded.high, now)
    watermark_ts, watermark_id = state.next_watermark(plan, previous, window.full, high)
    row_count = job.scalar(sql.count_rows(job.target))

    def kept(name: str):
        return getattr(previous, name) if previous is not None else None

    content_now = loaded.content is not None or window.full

    state.write_state(
        job.con,
        table_name=plan.name,
        mode=plan.mode,
        cursor_column=plan.cursor,
        watermark_ts=watermark_ts,
        watermark_id=watermark_id,
        last_run_at=now,
        last_run_id=job.run_id,
        last_full_refresh_at=now if window.full else kept("last_full_refresh_at"),
        last_delete_check_at=now if window.due or content_now else kept("last_delete_check_at"),
        last_content_check_at=now if content_now else kept("last_content_check_at"),
        delete_stamp=stamp if loaded.checked or window.full else kept("delete_stamp"),
        rows_read=job.rows_read,
        rows_inserted=loaded.inserted,
        rows_updated=loaded.updated,
        rows_deleted=loaded.deleted,
        row_count=row_count,
        duration_s=time.perf_counter() - started,
        source_url=job.session.source.masked_url,
        **xmin.state_values(job),
    )
    return _Marks(watermark_ts, watermark_id, row_count)


def _result(
    job: TableJob,
    window: state.Window,
    loaded: Loaded,
    marks: _Marks,
    changes: drift.Drift,
    started: float,
) -> TableResult:
    return TableResult(
        table=job.plan.name,
        mode=job.plan.mode,
        full_refresh=window.full,
        rows_read=job.rows_read,
        rows_inserted=loaded.inserted,
        rows_updated=loaded.updated,
        rows_deleted=loaded.deleted,
        row_count=marks.row_count,
        watermark=state.watermark_text(marks.watermark_ts, marks.watermark_id),
        duration_s=time.perf_counter() - started,
        delete_checked=loaded.checked,
        delete_check_reason=loaded.reason,
        rows_backfilled=loaded.backfilled,
        columns_added=changes.added,
        columns_dropped=changes.dropped,
        columns_widened=tuple(c for c, _, _ in changes.widened),
        content_checked=loaded.content is not None,
        content_check_reason=loaded.content.reason if loaded.content else "",
        rows_repaired=loaded.content.repaired if loaded.content else 0,
        xid_watermark=job.xid.xmin if job.xid is not None else None,
    )
