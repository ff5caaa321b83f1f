"""Hard deletes: the per-run probe, key reconciliation, the audit trail, and backfill.

Each run, a cheap probe per table says whether rows may be gone since the keys were last
reconciled (`probe`). When it fires, or the cadence is due, the source's primary keys
are compared with raw's (`reconcile_keys`): an integer key by bucket fingerprints first
(`reconcile`), so only the keys of differing buckets are streamed into a temporary table;
other keys all. Every key raw has and the source lacks is deleted from raw and recorded
in `meta._deleted_rows` (`record_deletes`). The same key set also shows the opposite:
source keys raw lacks although the cursor window passed them (a row committed later than
the lookback allows, a ledger id committed after a higher one); those rows are fetched by
key (`pk IN (…)`, or `(a, b) IN (…)` for a composite key: bound, chunked) and
inserted: "backfilled" (`backfill`), whatever the kind of key (integer, text, composite).
Keys with a NULL never take part (`guard` drops them from every stream).

Every delete passes the mass-deletion guard first (`guard_deletes`): a run that would
delete more than `ExtractOptions.max_delete_share` (10 %) of a table of at least
`mass_delete_min_rows` (1,000) rows, or empty a non-empty table, raises
`MassDeleteError` unless the run confirms deletes for that table (`confirm_deletes`):
the table's transaction rolls back, so raw, the audit trail and the sync state stay as
they were, and nothing is recorded as a hard delete. A source URL pointed at an empty
database of the same schema, or a restore gone wrong, would otherwise empty raw and
record every key as deleted for good.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from pipelines.errors import MassDeleteError
from pipelines.extract import changes, guard, reconcile
from pipelines.extract import merge_sql as sql
from pipelines.extract import warehouse as wh
from pipelines.extract.job import TableJob
from pipelines.extract.plan import INTEGER, TablePlan
from pipelines.extract.stream import registered

log = logging.getLogger(__name__)

#: Keys per `IN (…)` query when fetching rows the cursor missed.
BACKFILL_CHUNK = 500
#: Key ranges per query when fetching the keys of differing buckets.
RANGE_CHUNK = 200
#: The quiet probe's verdict.
QUIET = "probe: quiet"

#: Temporary tables and views of the reconciliation.
_KEYS, _GONE = "__extract_keys", "__extract_gone"
_SCOPE, _BACKFILL = "__extract_scope", "__extract_backfill"


def integer_key(plan: TablePlan) -> bool:
    pk = plan.primary_key
    return len(pk) == 1 and plan.column(pk[0]).kind == INTEGER


def probe(job: TableJob, stamp: str | None) -> str:
    """Whether the table may have lost rows since its keys were last reconciled.

    The row counts: after the merge raw holds every row the cursor saw, so a source count
    that differs means deletes, or rows the cursor missed; either way the keys are
    reconciled. Equal counts can hide as many deletes as missed rows in one table; where
    the database keeps a delete counter (PostgreSQL), a moved counter says so too. (Its
    statistics can lag a commit by seconds, so it adds to the counts, never replaces them.)
    Otherwise the full reconciliation's cadence is for that rare case."""
    state = job.state
    if stamp is not None and (state is None or state.delete_stamp != stamp):
        moved = state is not None and state.delete_stamp is not None
        return "probe: delete counter moved" if moved else "probe: no delete counter yet"
    theirs = job.session.row_count(job.plan)
    ours = job.scalar(sql.count_rows(job.target))
    return QUIET if theirs == ours else f"probe: source has {theirs:,} rows, raw {ours:,}"


def record_deletes(job: TableJob, keys: str, where: str = "") -> int:
    """Delete from raw the keys absent from `keys` (among raw's rows `where` selects),
    recording each in the audit trail. Without `where`, `keys` lists every source key:
    if none of the job's streams held a NULL key, refused rows are resolved."""
    pk = job.plan.primary_key
    if not where:
        guard.quarantine(job.con, job.plan, job.run_id, job.changes)
        guard.resolve(job.con, job.plan, job.refusals)
    job.run(sql.select_gone(_GONE, job.target, keys, pk, where))
    n = job.scalar(sql.count_rows(_GONE))
    if n:
        guard_deletes(job, n, job.scalar(sql.count_rows(job.target)))
        changes.log_deletes(job.changes, n, _GONE)
        audit = f"{wh.META}.{wh.DELETED_ROWS}"
        job.run(sql.audit_deletes(job.plan, audit, _GONE), [job.plan.name, job.now, job.run_id])
        job.run(sql.delete_matching(job.target, _GONE, pk))
    job.run(sql.drop_table(_GONE))
    return n


def guard_deletes(job: TableJob, deleting: int, rows: int) -> None:
    """Refuse (`MassDeleteError`) to delete `deleting` of raw's `rows` rows of the table
    when that is a mass deletion the run has not confirmed (see the module's doc)."""
    options, table = job.options, job.plan.name
    if not deleting or table in options.confirm_deletes or "all" in options.confirm_deletes:
        return
    share = deleting / rows if rows else 1.0
    emptied = deleting >= rows
    too_many = rows >= options.mass_delete_min_rows and share > options.max_delete_share
    if not (emptied or too_many):
        return
    limit = f"{options.max_delete_share * 100:g} %"
    why = (
        "it would empty the table"
        if emptied
        else f"above the {limit} limit for tables of at least {options.mass_delete_min_rows:,} rows"
    )
    raise MassDeleteError(
        f"raw.{table}: refused to delete {deleting:,} of {rows:,} rows ({share * 100:.1f} %: "
        f"{why}). Is the source the right database? Nothing was changed in this table and "
        "no hard delete was recorded. If the deletes are real, confirm them for one run: "
        f"`mealytics run --confirm-deletes {table}` (or `--confirm-deletes all`; run config "
        f"`confirm_deletes`), or raise MEALYTICS_MAX_DELETE_SHARE (now {limit}).",
        table=table,
        deleting=deleting,
        rows=rows,
    )


def _streamed_fingerprints(job: TableJob, bits: int) -> dict[int, str]:
    """The source's bucket fingerprints, aggregated by DuckDB from the streamed keys as
    they arrive (nothing stored): the same expressions as raw's."""
    (pk,) = job.plan.primary_key
    reader = job.stream(job.session.keys(job.plan), keys=True)
    with registered(job.con, "__extract_source", reader) as view:
        return dict(job.run(sql.key_fingerprints(view, pk, bits)))


def _source_totals(job: TableJob, ours: tuple) -> tuple | None:
    """The source's (count, Σ, Σ², min, max) of the key; None when they equal raw's (no
    difference at all). With streamed keys the buckets cost one pass, as the totals
    would: only the key range is asked (the count only sizes the buckets: raw's will do)."""
    if job.session.stream_keys:
        low, high = job.session.key_range(job.plan)
        return (ours[0], None, None, low, high)
    theirs = job.session.key_totals(job.plan)
    return None if theirs[:3] == ours[:3] else theirs


def differing_buckets(job: TableJob) -> tuple[int, list[int]] | None:
    """(bits, buckets whose fingerprints differ) of an integer key; None: compare every
    key (the fingerprints' arithmetic would not fit, or keys are negative)."""
    (pk,) = job.plan.primary_key
    ours = tuple(job.run(sql.key_totals(job.target, pk))[0])
    theirs = _source_totals(job, ours)
    if theirs is None:
        return 0, []
    lows = [v for v in (theirs[3], ours[3]) if v is not None]
    highs = [v for v in (theirs[4], ours[4]) if v is not None]
    # Sums stay within BIGINT in every database (SQLite raises past it).
    count = max(theirs[0], ours[0])
    if not lows or min(lows) < 0 or count * max(map(abs, lows + highs)) >= 2**62:
        return None
    bits = reconcile.bucket_bits(count, min(lows), max(highs))
    source = (
        _streamed_fingerprints(job, bits)
        if job.session.stream_keys
        else job.session.key_fingerprints(job.plan, bits)
    )
    raw = dict(job.run(sql.key_fingerprints(job.target, pk, bits)))
    return bits, reconcile.differing(source, raw)


def _stage_keys(job: TableJob, ranges: list[tuple[int, int]] | None) -> None:
    """The source's keys (all, or those in `ranges`) into the temp table of keys."""
    chunks = [None] if ranges is None else [
        ranges[i : i + RANGE_CHUNK] for i in range(0, len(ranges), RANGE_CHUNK)
    ]  # fmt: skip
    for i, chunk in enumerate(chunks):
        reader = job.stream(job.session.keys(job.plan, chunk), keys=True)
        into = (
            (lambda select: sql.create_temp(_KEYS, select))
            if i == 0
            else (lambda select: f"INSERT INTO {_KEYS} {select}")
        )
        job.ingest(reader, into, names=job.plan.primary_key)


def reconcile_keys(job: TableJob) -> tuple[int, int]:
    """Compare the source's primary keys with raw's: (deleted, backfilled).

    An integer key is compared by bucket fingerprints first (`reconcile`): only the keys
    of differing buckets are fetched, none at all when the table is quiet. Other keys, or
    keys out of the fingerprints' range, are all streamed and anti-joined.
    """
    found = differing_buckets(job) if integer_key(job.plan) else None
    ranges = None if found is None else reconcile.bucket_ranges(*found)
    if ranges == []:
        return 0, 0
    _stage_keys(job, ranges)
    if ranges is None:
        deleted = record_deletes(job, _KEYS)
    else:
        bits, buckets = found
        with registered(job.con, _SCOPE, pa.table({"b": pa.array(buckets, pa.int64())})):
            where = sql.in_buckets(job.plan.primary_key[0], ranges, bits, _SCOPE)
            deleted = record_deletes(job, _KEYS, where)
    backfilled = backfill(job, _KEYS)
    job.run(sql.drop_table(_KEYS))
    return deleted, backfilled


def backfill(job: TableJob, keys: str) -> int:
    """Fetch the source rows whose keys raw lacks although the cursor window passed them.

    A row the cursor cannot see: committed later than the lookback allows (its
    `updated_at` already below the window) or, in a ledger, an id below the watermark
    committed after a higher one. Key reconciliation finds them; this copies them. A
    single key is fetched by `pk IN (…)`, a composite one by `(a, b) IN (…)`.
    """
    plan = job.plan
    rows = job.run(sql.missing_keys(keys, job.target, plan.primary_key))
    missing = [r[0] for r in rows] if len(plan.primary_key) == 1 else [tuple(r) for r in rows]
    if not missing:
        return 0
    log.warning("raw.%s: %d rows the cursor missed, copied by key", plan.name, len(missing))
    # The same snapshot as the keys: each missing key's row is there to copy.
    changes.log_missing(job.changes, len(missing), keys)
    for i in range(0, len(missing), BACKFILL_CHUNK):
        reader = job.stream(job.session.rows(plan, keys=missing[i : i + BACKFILL_CHUNK]))
        job.ingest(
            reader,
            lambda select: sql.insert_select(job.target, plan.column_names, select),
            view=_BACKFILL,
        )
    return len(missing)
