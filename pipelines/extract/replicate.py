"""Replicating one source table into `raw.<table>`: incremental, atomic, delete-aware.

Per table, in ONE DuckDB transaction:

1. Schema drift: new source columns are added, safe widenings applied (INTEGER → BIGINT,
   DECIMAL(12,2) → DECIMAL(14,2)); a dropped column stays, NULL from then on, with a
   warning; any other type change raises `SchemaDriftError` naming table, column, old and
   new type, before anything is read (other tables are unaffected).
2. Read the changed rows as Arrow batches: `merge` tables `updated_at >= watermark −
   lookback` (default one hour, for transactions that commit late with an earlier
   `updated_at`), `append` ledgers `id > watermark`; the first run and a full refresh read
   everything. A reader thread fills a bounded queue while DuckDB ingests: Python holds
   at most batch size × queue depth rows, whatever the table's size; DuckDB's own buffer
   pool is capped by its `memory_limit` (see `warehouse.connect`).
3. Stage them (typed: DECIMAL, TIMESTAMPTZ in UTC, BOOLEAN, DATE), drop the re-read rows
   that are identical to raw (the lookback re-reads some), then merge by primary key:
   delete the matches' old versions, insert the staged rows. A first copy into an empty
   table inserts directly.
4. Hard deletes: when the probe fires (row counts differ, or PostgreSQL's delete counter
   moved) or the cadence is due, compare the source's primary keys with raw's (an integer
   key by bucket fingerprints first, `reconcile`: only the keys of differing buckets are
   streamed into a temporary table; other keys all) and delete from raw every key the
   source no longer has, recording each in `raw._deleted_rows`. The full reconciliation's
   cadence is `delete_check_every` (weekly); a full refresh always does it. The same key
   set also shows
   the opposite: source keys raw lacks although the cursor window passed them (a row
   committed later than the lookback allows, a ledger id committed after a higher one).
   Those rows are fetched by key (`pk IN (…)`, bound) and inserted: "backfilled".
5. Write `raw._sync_state` (watermark = the highest cursor value read, for `merge` capped
   at the run's start against future-dated rows; counts), COMMIT.

A crash anywhere before COMMIT rolls everything back: raw, the audit trail and the
watermark stay at the previous run, and the next run reads the same window again, so
nothing is lost or duplicated.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import duckdb
import pyarrow as pa

from pipelines.extract import reconcile, rejects
from pipelines.extract import warehouse as wh
from pipelines.extract.plan import DECIMAL, TIMESTAMP, TablePlan, TableSelection, quote, quoted
from pipelines.extract.source import ReadSession, Source, prefetch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractOptions:
    full_refresh: bool = False
    #: Re-read window below the watermark for late commits.
    lookback: dt.timedelta = dt.timedelta(hours=1)
    #: How often to reconcile every primary key for hard deletes, whatever the probe
    #: says: 0 = every run, None = never (only when the probe fires).
    delete_check_every: dt.timedelta | None = dt.timedelta(days=7)
    #: Between those, a cheap probe each run says whether a table may have lost rows (the
    #: source's row count against raw's; on PostgreSQL the table's delete counter), and
    #: only then are its keys reconciled. False: the cadence alone decides.
    delete_probe: bool = True
    run_id: str | None = None
    #: Batches queued between the reader thread and DuckDB.
    queue_depth: int = 4
    #: Called with each batch before DuckDB takes it (tests inject crashes here).
    on_batch: Callable[[pa.RecordBatch], None] | None = field(default=None, compare=False)
    #: Called with (connection, run_id) inside each table's transaction just before COMMIT.
    before_commit: Callable[[duckdb.DuckDBPyConnection, str], None] | None = field(
        default=None, compare=False
    )


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

    @property
    def rows_per_s(self) -> float:
        return self.rows_read / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "rows_per_s": round(self.rows_per_s, 1)}


def _cast(name: str, plan: TablePlan, arrow_type: pa.DataType) -> str:
    """DuckDB expression turning the incoming Arrow column into the warehouse type."""
    col = plan.column(name)
    q = quote(name)
    if col.kind == DECIMAL and pa.types.is_floating(arrow_type):
        # SQLite keeps fractional NUMERIC as binary REAL: round to the declared scale
        # while still a double, then it is an exact DECIMAL from here on.
        return f"CAST(round({q}, {col.scale}) AS {col.duck_type}) AS {q}"
    if col.kind == TIMESTAMP:
        # Text in any ISO form (offset or not, fraction or not) or an Arrow timestamp;
        # naive values are UTC (the session time zone).
        return f"CAST({q} AS TIMESTAMPTZ) AS {q}"
    return f"CAST({q} AS {col.duck_type}) AS {q}"


def _select_typed(plan: TablePlan, names, reader: pa.RecordBatchReader, view: str) -> str:
    types = {f.name: f.type for f in reader.schema}
    return f"SELECT {', '.join(_cast(n, plan, types[n]) for n in names)} FROM {view}"


def _join(a: str, b: str, names) -> str:
    return " AND ".join(f"{a}.{quote(n)} = {b}.{quote(n)}" for n in names)


def _row_key_sql(plan: TablePlan, alias: str) -> tuple[str, str]:
    """(row_id, row_key) expressions for the deletion audit trail."""
    pk = plan.primary_key
    if len(pk) == 1 and plan.column(pk[0]).kind == "integer":
        ref = f"{alias}.{quote(pk[0])}"
        return f"CAST({ref} AS BIGINT)", f"CAST({ref} AS VARCHAR)"
    parts = ", ".join(f"CAST({alias}.{quote(k)} AS VARCHAR)" for k in pk)
    return "NULL", f"concat_ws('|', {parts})"


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params=None):
    return wh.run(con, sql, params)[0][0]


def extract_table(
    con: duckdb.DuckDBPyConnection,
    session: ReadSession,
    plan: TablePlan,
    options: ExtractOptions = ExtractOptions(),
) -> TableResult:
    """Bring `raw.<plan.name>` up to date with the source table, atomically.

    Timestamp or date text that does not parse (SQLite): the table is extracted again,
    such values NULL and recorded in `raw._rejected_values` (see `rejects`)."""
    return rejects.extract_tolerantly(_extract_table, con, session, plan, options)


def _extract_table(
    con: duckdb.DuckDBPyConnection,
    session: ReadSession,
    plan: TablePlan,
    options: ExtractOptions,
) -> TableResult:
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    run_id = options.run_id or uuid.uuid4().hex
    target = f"{wh.RAW}.{quote(plan.name)}"
    state = wh.read_state(con, plan.name)
    existing = wh.raw_columns(con, plan.name)
    drift = wh.compare(plan, existing) if existing is not None else wh.Drift()

    full = (
        options.full_refresh
        or plan.mode == "replace"
        or state is None
        or existing is None
        or state.mode != plan.mode
    )
    since = None
    if not full:
        if plan.mode == "merge":
            since = state.watermark_ts - options.lookback if state.watermark_ts else None
        else:
            since = state.watermark_id
    due = full or (
        options.delete_check_every is not None
        and (
            state.last_delete_check_at is None
            or now - state.last_delete_check_at >= options.delete_check_every
        )
    )
    check_deletes = due
    reason = "full copy" if full else ("cadence" if due else "cadence not due")
    # The probe's stamp is read before this session's snapshot, so a delete it misses
    # is in the next run's stamp (see `ReadSession.delete_stamp`).
    stamp = session.delete_stamp(plan) if plan.primary_key else None

    stage, src = "__extract_stage", "__extract_source"
    rows_read = 0

    def count(batch: pa.RecordBatch) -> None:
        nonlocal rows_read
        rows_read += batch.num_rows
        if options.on_batch is not None:
            options.on_batch(batch)

    stream_errors: list[BaseException] = []
    wh.run(con, "BEGIN TRANSACTION")
    try:
        if existing is None:
            wh.create_table(con, plan)
        elif drift:
            wh.apply_drift(con, plan, drift)
        # A copy of everything into an empty table needs no staging, merge or key check.
        empty = (full or since is None) and (
            existing is None or _scalar(con, f"SELECT count(*) = 0 FROM {target}")
        )
        reader = prefetch(
            session.rows(plan, since),
            depth=options.queue_depth,
            on_batch=count,
            errors=stream_errors,
        )
        typed = _select_typed(plan, plan.column_names, reader, src)
        con.register(src, reader)
        try:
            if empty:
                # First copy: straight into the table, no staging.
                wh.run(con, f"INSERT INTO {target} ({quoted(plan.column_names)}) {typed}")
            else:
                wh.run(con, f"CREATE OR REPLACE TEMP TABLE {stage} AS {typed}")
        finally:
            _unregister(con, src)

        inserted = updated = deleted = backfilled = 0
        high = None
        if empty:
            inserted = rows_read
            if plan.cursor:
                high = _scalar(con, f"SELECT max({quote(plan.cursor)}) FROM {target}")
        else:
            high = (
                _scalar(con, f"SELECT max({quote(plan.cursor)}) FROM {stage}")
                if plan.cursor
                else None
            )
            pk = plan.primary_key
            if pk:
                if full:
                    # The stage holds every source row: raw keys absent from it were deleted.
                    deleted = _record_deletes(con, plan, target, stage, run_id, now)
                inserted, updated = _merge(
                    con, plan, target, stage, None if full else _reread(plan, state)
                )
            else:
                # No key (replace mode): the stage is the whole table, swapped in.
                deleted = _scalar(con, f"SELECT count(*) FROM {target}")
                wh.run(con, f"DELETE FROM {target}")
                inserted = _scalar(con, f"SELECT count(*) FROM {stage}")
                wh.run(
                    con, f"INSERT INTO {target} ({quoted(plan.column_names)}) SELECT * FROM {stage}"
                )
            wh.run(con, f"DROP TABLE {stage}")
            if not full and pk and not check_deletes and options.delete_probe:
                reason = _probe(con, session, plan, target, state, stamp)
                check_deletes = reason != "probe: quiet"
            if check_deletes and not full and pk:
                deleted, backfilled = _reconcile_keys(
                    con, session, plan, target, run_id, now, options, stream_errors
                )
                inserted += backfilled

        if plan.mode == "merge" and high is not None and high > now:
            # A row dated in the future (a skewed application clock) must not lift the
            # watermark above the time of changes still to come: cap it at this run's
            # start, so those rows are re-read (and found unchanged) until time catches up.
            log.warning(
                "raw.%s: %s = %s is in the future; watermark capped at %s",
                plan.name,
                plan.cursor,
                high,
                now,
            )
            high = now
        watermark_ts = state.watermark_ts if state and not full else None
        watermark_id = state.watermark_id if state and not full else None
        if plan.mode == "merge" and high is not None:
            watermark_ts = max(high, watermark_ts) if watermark_ts else high
        elif plan.mode == "append" and high is not None:
            watermark_id = max(high, watermark_id) if watermark_id is not None else high
        row_count = _scalar(con, f"SELECT count(*) FROM {target}")
        duration = time.perf_counter() - started
        wh.write_state(
            con,
            table_name=plan.name,
            mode=plan.mode,
            cursor_column=plan.cursor,
            watermark_ts=watermark_ts,
            watermark_id=watermark_id,
            last_run_at=now,
            last_run_id=run_id,
            last_full_refresh_at=now if full else _prev(con, plan.name, "last_full_refresh_at"),
            last_delete_check_at=now if due else (state.last_delete_check_at if state else None),
            delete_stamp=stamp
            if check_deletes or full
            else (state.delete_stamp if state else None),
            rows_read=rows_read,
            rows_inserted=inserted,
            rows_updated=updated,
            rows_deleted=deleted,
            row_count=row_count,
            duration_s=duration,
            source_url=session.source.masked_url,
        )
        if options.before_commit is not None:
            options.before_commit(con, run_id)
        wh.run(con, "COMMIT")
    except BaseException as exc:
        try:
            wh.run(con, "ROLLBACK")
        except duckdb.Error:
            pass  # no transaction left to roll back (COMMIT itself failed)
        _unregister(con, src)
        if stream_errors and stream_errors[0] is not exc:
            # DuckDB wraps an error raised while it read the stream: surface the original.
            raise stream_errors[0] from exc
        raise

    watermark = (
        watermark_ts.isoformat()
        if watermark_ts
        else (str(watermark_id) if watermark_id is not None else None)
    )
    result = TableResult(
        table=plan.name,
        mode=plan.mode,
        full_refresh=full,
        rows_read=rows_read,
        rows_inserted=inserted,
        rows_updated=updated,
        rows_deleted=deleted,
        row_count=row_count,
        watermark=watermark,
        duration_s=time.perf_counter() - started,
        delete_checked=check_deletes,
        delete_check_reason=reason,
        rows_backfilled=backfilled,
        columns_added=drift.added,
        columns_dropped=drift.dropped,
        columns_widened=tuple(c for c, _, _ in drift.widened),
    )
    log.info("raw.%s: %s", plan.name, result.as_dict())
    return result


def _merge(
    con, plan: TablePlan, target: str, stage: str, reread: str | None = None
) -> tuple[int, int]:
    """Upsert the stage into raw by primary key: (inserted, updated).

    `reread` (a condition on the stage's rows `s`) says which staged rows raw may already
    hold unchanged; None means any of them (a full refresh)."""
    pk = plan.primary_key
    # The lookback re-reads rows: drop those identical to raw first, so they count as
    # nothing and a quiet rerun writes nothing. Only re-read rows can be identical (a row
    # whose cursor passed the watermark changed since), and identical rows share the
    # cursor value too: joining on it lets DuckDB skip raw's row groups outside the
    # stage's cursor range instead of reading every column of the whole table.
    on = list(pk) + ([plan.cursor] if plan.cursor and plan.cursor not in pk else [])
    same = " AND ".join(
        f"s.{quote(c)} IS NOT DISTINCT FROM r.{quote(c)}" for c in plan.column_names if c not in on
    )
    where = f"{_join('s', 'r', on)}" + (f" AND {same}" if same else "")
    if reread is not None:
        where += f" AND ({reread})"
    raw_rows = target
    if plan.cursor and plan.cursor not in pk and reread != "false":
        # Only raw's rows in the re-read rows' cursor range can match: as constants, the
        # bounds reach the scan (zone maps, then the other columns of matching rows only).
        cursor = quote(plan.cursor)
        ((low, high),) = wh.run(
            con, f"SELECT min(s.{cursor}), max(s.{cursor}) FROM {stage} s WHERE {reread or 'true'}"
        )
        if low is None:
            reread = "false"  # nothing re-read
        else:
            raw_rows = (
                f"(SELECT * FROM {target} WHERE {cursor} BETWEEN "
                f"{_literal(low)} AND {_literal(high)})"
            )
    if reread != "false":
        wh.run(con, f"DELETE FROM {stage} AS s USING {raw_rows} AS r WHERE {where}")
    # raw's keys are unique: the stage's rows that find a match are updates.
    ((changed, updated),) = wh.run(
        con,
        f"SELECT count(*), count(r.{quote(pk[0])}) FROM {stage} s "
        f"LEFT JOIN {target} r ON {_join('s', 'r', pk)}",
    )
    inserted = changed - updated
    if not changed:
        return 0, 0
    # Updates as delete + insert, not MERGE's UPDATE: DuckDB's checkpoint rewrites every
    # row group an UPDATE touched (all columns), while a delete only marks rows and the
    # new versions are appended: at 1M customers one day's commits took 0.5 s instead of
    # 5.5 s. (Raw tables have no row order; dropped columns are not inserted: NULL.)
    if updated:
        wh.run(con, f"DELETE FROM {target} AS r USING {stage} AS s WHERE {_join('r', 's', pk)}")
    wh.run(
        con,
        f"INSERT INTO {target} ({quoted(plan.column_names)}) "
        f"SELECT {quoted(plan.column_names)} FROM {stage}",
    )
    return inserted, updated


def _reread(plan: TablePlan, state: wh.SyncState | None) -> str:
    """Which staged rows of an incremental read raw may already hold, unchanged.

    `merge`: the lookback window's, at or below the previous watermark; a row above it
    was not read before, so it changed, unless the previous watermark was capped at that
    run's start by a future-dated row (then any row may be a re-read). `append`: none.
    """
    if plan.mode == "append":
        return "false"
    if state is None or state.watermark_ts is None or state.last_run_at is None:
        return "true"
    if state.watermark_ts >= state.last_run_at:
        return "true"  # capped: rows above it were read too
    return f"s.{quote(plan.cursor)} <= {_literal(state.watermark_ts)}"


def _literal(value: dt.datetime) -> str:
    """An `updated_at` value as a DuckDB constant."""
    return f"CAST('{value.astimezone(dt.UTC).isoformat()}' AS TIMESTAMPTZ)"


def _unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    try:
        con.unregister(name)
    except duckdb.Error:
        pass  # an aborted transaction refuses it; done again after the rollback


def _prev(con: duckdb.DuckDBPyConnection, table: str, column: str):
    rows = wh.run(
        con, f"SELECT {column} FROM {wh.RAW}.{wh.SYNC_STATE} WHERE table_name = ?", [table]
    )
    return rows[0][0] if rows else None


#: Keys per `IN (…)` query when fetching rows the cursor missed.
BACKFILL_CHUNK = 500
#: Key ranges per query when fetching the keys of differing buckets.
RANGE_CHUNK = 200


def _integer_key(plan: TablePlan) -> bool:
    pk = plan.primary_key
    return len(pk) == 1 and plan.column(pk[0]).kind == "integer"


def _raw_key_totals(con, target: str, key: str) -> tuple:
    return tuple(
        wh.run(
            con,
            f"SELECT count(k), coalesce(sum(k), 0), coalesce(sum((k & 65535) * (k & 65535)), 0), "
            f"min(k), max(k) FROM (SELECT CAST({key} AS BIGINT) AS k FROM {target})",
        )[0]
    )


def _raw_key_fingerprints(con, target: str, key: str, bits: int) -> dict[int, str]:
    """Raw's side of `ReadSession.key_fingerprints`."""
    rows = wh.run(
        con,
        f"SELECT k >> {int(bits)} AS b, concat_ws(' ', count(*), sum(k), "
        f"sum((k & 65535) * (k & 65535))) FROM (SELECT CAST({key} AS BIGINT) AS k FROM {target}) "
        "GROUP BY b",
    )
    return dict(rows)


def _probe(con, session: ReadSession, plan: TablePlan, target: str, state, stamp) -> str:
    """Whether the table may have lost rows since its keys were last reconciled.

    The row counts: after the merge raw holds every row the cursor saw, so a source count
    that differs means deletes, or rows the cursor missed; either way the keys are
    reconciled. Equal counts can hide as many deletes as missed rows in one table; where
    the database keeps a delete counter (PostgreSQL), a moved counter says so too. (Its
    statistics can lag a commit by seconds, so it adds to the counts, never replaces them.)
    Otherwise the full reconciliation's cadence is for that rare case."""
    if stamp is not None and (state is None or state.delete_stamp != stamp):
        moved = state is not None and state.delete_stamp is not None
        return "probe: delete counter moved" if moved else "probe: no delete counter yet"
    theirs = session.row_count(plan)
    ours = _scalar(con, f"SELECT count(*) FROM {target}")
    return "probe: quiet" if theirs == ours else f"probe: source has {theirs:,} rows, raw {ours:,}"


def _streamed_fingerprints(
    con, session: ReadSession, plan: TablePlan, bits: int, options, errors
) -> dict[int, str]:
    """The source's bucket fingerprints, aggregated by DuckDB from the streamed keys as
    they arrive (nothing stored): the same expressions as `_raw_key_fingerprints`."""
    src = "__extract_source"
    reader = prefetch(session.keys(plan), depth=options.queue_depth, errors=errors)
    con.register(src, reader)
    try:
        (pk,) = plan.primary_key
        return _raw_key_fingerprints(con, src, quote(pk), bits)
    finally:
        _unregister(con, src)


def _reconcile_keys(
    con, session: ReadSession, plan: TablePlan, target: str, run_id: str, now, options, errors
) -> tuple[int, int]:
    """Compare the source's primary keys with raw's: (deleted, backfilled).

    An integer key is compared by bucket fingerprints first (`reconcile`): only the keys
    of differing buckets are fetched, none at all when the table is quiet. Other keys, or
    keys out of the fingerprints' range, are all streamed and anti-joined.
    """
    keys, src, scope = "__extract_keys", "__extract_source", "__extract_scope"
    pk = plan.primary_key
    ranges = None  # every key
    if _integer_key(plan):
        key = quote(pk[0])
        ours = _raw_key_totals(con, target, key)
        if session.stream_keys:
            # The buckets cost one pass of streamed keys, as the totals would: straight
            # to them. (The count only sizes the buckets: raw's will do.)
            low, high = session.key_range(plan)
            theirs = (ours[0], None, None, low, high)
        else:
            theirs = session.key_totals(plan)
            if theirs[:3] == ours[:3]:
                return 0, 0
        lows = [v for v in (theirs[3], ours[3]) if v is not None]
        highs = [v for v in (theirs[4], ours[4]) if v is not None]
        # Sums stay within BIGINT in every database (SQLite raises past it).
        count = max(theirs[0], ours[0])
        fits = count * max(map(abs, lows + highs)) < 2**62
        if lows and min(lows) >= 0 and fits:
            low, high = min(lows), max(highs)
            bits = reconcile.bucket_bits(count, low, high)
            buckets = reconcile.differing(
                _streamed_fingerprints(con, session, plan, bits, options, errors)
                if session.stream_keys
                else session.key_fingerprints(plan, bits),
                _raw_key_fingerprints(con, target, key, bits),
            )
            ranges = reconcile.bucket_ranges(bits, buckets)
            if not ranges:
                return 0, 0
    chunks = [None] if ranges is None else [
        ranges[i : i + RANGE_CHUNK] for i in range(0, len(ranges), RANGE_CHUNK)
    ]  # fmt: skip
    for i, chunk in enumerate(chunks):
        key_reader = prefetch(session.keys(plan, chunk), depth=options.queue_depth, errors=errors)
        con.register(src, key_reader)
        try:
            into = f"CREATE OR REPLACE TEMP TABLE {keys} AS" if i == 0 else f"INSERT INTO {keys}"
            wh.run(con, f"{into} {_select_typed(plan, pk, key_reader, src)}")
        finally:
            _unregister(con, src)
    where = ""
    if ranges is not None:
        # Raw's rows in the fetched buckets only (the bounds let DuckDB skip row groups).
        con.register(scope, pa.table({"b": pa.array(buckets, pa.int64())}))
        k = f"CAST(r.{quote(pk[0])} AS BIGINT)"
        where = (
            f"WHERE {k} >= {int(ranges[0][0])} AND {k} < {int(ranges[-1][1])} "
            f"AND {k} >> {int(bits)} IN (SELECT b FROM {scope})"
        )
    try:
        deleted = _record_deletes(con, plan, target, keys, run_id, now, where=where)
    finally:
        _unregister(con, scope)
    backfilled = _backfill(con, session, plan, target, keys, options, errors)
    wh.run(con, f"DROP TABLE {keys}")
    return deleted, backfilled


def _backfill(
    con, session: ReadSession, plan: TablePlan, target: str, keys: str, options, errors
) -> int:
    """Fetch the source rows whose keys raw lacks although the cursor window passed them.

    A row the cursor cannot see: committed later than the lookback allows (its
    `updated_at` already below the window) or, in a ledger, an id below the watermark
    committed after a higher one. Key reconciliation finds them; this copies them.
    """
    pk = plan.primary_key
    if len(pk) != 1 or plan.column(pk[0]).kind != "integer":
        return 0
    missing = [
        r[0]
        for r in wh.run(
            con,
            f"SELECT k.{quote(pk[0])} FROM {keys} k ANTI JOIN {target} r "
            f"ON {_join('k', 'r', pk)} ORDER BY 1",
        )
    ]
    if not missing:
        return 0
    log.warning("raw.%s: %d rows the cursor missed, copied by key", plan.name, len(missing))
    src = "__extract_backfill"
    for i in range(0, len(missing), BACKFILL_CHUNK):
        reader = prefetch(
            session.rows(plan, keys=missing[i : i + BACKFILL_CHUNK]),
            depth=options.queue_depth,
            errors=errors,
        )
        con.register(src, reader)
        try:
            wh.run(
                con,
                f"INSERT INTO {target} ({quoted(plan.column_names)}) "
                f"{_select_typed(plan, plan.column_names, reader, src)}",
            )
        finally:
            _unregister(con, src)
    return len(missing)


def _record_deletes(
    con, plan: TablePlan, target: str, keys: str, run_id: str, now, where: str = ""
) -> int:
    """Delete from raw the keys absent from `keys` (among raw's rows `where` selects),
    recording each in the audit trail."""
    pk = plan.primary_key
    gone = "__extract_gone"
    wh.run(
        con,
        f"CREATE OR REPLACE TEMP TABLE {gone} AS "
        f"SELECT {quoted(pk)} FROM (SELECT * FROM {target} r {where}) r "
        f"ANTI JOIN {keys} k ON {_join('r', 'k', pk)}",
    )
    n = _scalar(con, f"SELECT count(*) FROM {gone}")
    if n:
        row_id, row_key = _row_key_sql(plan, "g")
        wh.run(
            con,
            f"INSERT INTO {wh.RAW}.{wh.DELETED_ROWS} "
            f"SELECT ?, {row_id}, {row_key}, ?, ? FROM {gone} g",
            [plan.name, now, run_id],
        )
        wh.run(con, f"DELETE FROM {target} AS r USING {gone} AS g WHERE {_join('r', 'g', pk)}")
    wh.run(con, f"DROP TABLE {gone}")
    return n


@dataclass
class ExtractReport:
    results: dict[str, TableResult] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def extract_all(
    source: Source | str,
    warehouse: str,
    *,
    options: ExtractOptions = ExtractOptions(),
    selection: TableSelection | None = None,
    tables: list[str] | None = None,
    memory_limit: str | None = None,
) -> ExtractReport:
    """Extract every selected table; a failing table is reported, the others still load.

    An unreachable source raises `SourceUnavailableError` before the warehouse is opened.
    """
    source = Source(source) if isinstance(source, str) else source
    plans = source.plans(selection, tables=tables)
    report = ExtractReport()
    with source.connected():
        con = wh.connect(warehouse, memory_limit=memory_limit)
        try:
            for plan in plans:
                try:
                    with source.session() as session:
                        report.results[plan.name] = extract_table(con, session, plan, options)
                except Exception as exc:
                    log.exception("raw.%s failed: %s", plan.name, exc)
                    report.errors[plan.name] = exc
        finally:
            con.close()
    return report
