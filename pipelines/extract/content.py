"""Content reconciliation: raw made equal to the source row for row, whatever the cursor saw.

The cursor (`updated_at`) is a hint, not a guarantee (SOURCE_SCHEMA.md): Django's
`queryset.update()`, `save(update_fields=…)`, `bulk_update()` and the SET_NULL side of
`on_delete` change rows without bumping it, an application clock that steps back writes
changes below the watermark, and a source restored to an earlier state holds versions raw
no longer has. None of these moves a cursor; all of them change the rows' content. So, on
a cadence (`ExtractOptions.content_check_every`: every run by default in the library, daily
in the product, `MEALYTICS_CONTENT_CHECK_EVERY`), each keyed table's full rows are
compared with raw's, cheaply:

1. Fingerprints per key bucket on both sides. A bucket is the rows sharing `id >> bits`
   (about 64 rows, as in `reconcile`); its fingerprint is the row count and the sum of
   DuckDB's `hash()` of every column, each cast to its warehouse type first. The source's
   side is computed by DuckDB from the table's rows streamed through the reader as they
   arrive (SQLite cannot hash; nothing is stored: an aggregate of one row per bucket),
   raw's side from raw; the same expression, over the same types, on both.
2. Only the differing buckets' rows are read again from the source (half-open key ranges,
   chunked) into a temporary stage, in the same snapshot as the fingerprints.
3. Within those buckets: raw's keys the source lacks are deleted and audited
   (`deletes.record_deletes`), and the stage is merged by key (`merge.merge`: identical
   rows are dropped first, so only real differences are written).

A table with another kind of key (text, composite, or negative integers) is one bucket:
if its whole-table fingerprint differs, the table is read again whole and merged the
same way. Keyless tables are copied whole every run anyway (`replace`).

What it costs: one read of every row of the table from the source (not written
anywhere) plus raw's scan, once per cadence; benchmarks/README.md gives the figures.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import pyarrow as pa

from pipelines.extract import deletes, merge, reconcile
from pipelines.extract import merge_sql as sql
from pipelines.extract.job import TableJob
from pipelines.extract.options import ExtractOptions
from pipelines.extract.plan import TablePlan, quote
from pipelines.extract.state import SyncState
from pipelines.extract.stream import registered

log = logging.getLogger(__name__)

#: The stage of re-read rows and the view of the differing buckets.
_STAGE, _SCOPE = "__extract_content", "__extract_scope"
#: Key ranges per re-read query.
RANGE_CHUNK = 200


@dataclass(frozen=True)
class ContentCheck:
    """What a content reconciliation found and repaired."""

    buckets: int = 0
    differing: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def repaired(self) -> int:
        return self.inserted + self.updated + self.deleted

    @property
    def reason(self) -> str:
        if not self.differing:
            return f"content: {self.buckets:,} buckets equal"
        return (
            f"content: {self.differing:,} of {self.buckets:,} buckets differed; "
            f"{self.updated:,} rows updated, {self.inserted:,} inserted, "
            f"{self.deleted:,} deleted"
        )


def due(state: SyncState | None, options: ExtractOptions, now: dt.datetime) -> bool:
    """Whether the table's content is to be reconciled this run (the cadence)."""
    every = options.content_check_every
    if every is None:
        return False
    last = state.last_content_check_at if state is not None else None
    return last is None or now - last >= every


# -- the fingerprints' SQL -----------------------------------------------------------------------


def row_hash(plan: TablePlan, alias: str = "") -> str:
    """DuckDB's hash of a row: every column of the plan cast to its warehouse type (raw's
    widened columns and the stream's typed columns then hash alike)."""
    prefix = f"{alias}." if alias else ""
    cols = ", ".join(f"CAST({prefix}{quote(c.name)} AS {c.duck_type})" for c in plan.columns)
    return f"hash({cols})"


def bucket_of(plan: TablePlan, bits: int | None) -> str:
    """The bucket expression: `id >> bits`, or 0 (the whole table is one bucket)."""
    if bits is None:
        return "0"
    return f"CAST({quote(plan.primary_key[0])} AS BIGINT) >> {int(bits)}"


def fingerprints(plan: TablePlan, rows: str, bits: int | None) -> str:
    """(bucket, count, Σ hash) per non-empty bucket of the rows of `rows` (a table or a
    parenthesised SELECT)."""
    return (
        f"SELECT {bucket_of(plan, bits)} AS b, count(*) AS n, sum({row_hash(plan)}) AS h "
        f"FROM {rows} GROUP BY b"
    )


# -- the reconciliation ----------------------------------------------------------------------------


def _bits(job: TableJob) -> int | None:
    """The bucket width of an integer key (None: one bucket, see the module docstring)."""
    plan = job.plan
    if not deletes.integer_key(plan):
        return None
    (pk,) = plan.primary_key
    count, _, _, low, high = job.run(sql.key_totals(job.target, pk))[0]
    s_low, s_high = job.session.key_range(plan)
    lows = [v for v in (low, s_low) if v is not None]
    highs = [v for v in (high, s_high) if v is not None]
    if not lows or min(lows) < 0:
        return None
    return reconcile.bucket_bits(max(count, 1), min(lows), max(highs))


def _source_fingerprints(job: TableJob, bits: int | None) -> dict[int, tuple]:
    """The source's fingerprints, aggregated by DuckDB from every row as it streams by."""
    reader = job.stream(job.session.rows(job.plan))
    found = job.ingest(reader, lambda select: fingerprints(job.plan, f"({select})", bits))
    return {int(b): (int(n), int(h)) for b, n, h in found}


def _raw_fingerprints(job: TableJob, bits: int | None) -> dict[int, tuple]:
    found = job.run(fingerprints(job.plan, job.target, bits))
    return {int(b): (int(n), int(h)) for b, n, h in found}


def _stage(job: TableJob, ranges: list[tuple[int, int]] | None) -> None:
    """The source's rows of the differing buckets (all rows: `ranges` None) into the stage."""
    chunks = [None] if ranges is None else [
        ranges[i : i + RANGE_CHUNK] for i in range(0, len(ranges), RANGE_CHUNK)
    ]  # fmt: skip
    plan = job.plan
    for i, chunk in enumerate(chunks):
        reader = job.stream(job.session.rows(plan, ranges=chunk))
        if i == 0:
            job.ingest(reader, lambda select: sql.create_temp(_STAGE, select))
        else:
            job.ingest(reader, lambda select: sql.insert_select(_STAGE, plan.column_names, select))


def _repair(job: TableJob, bits: int | None, buckets: list[int]) -> tuple[int, int, int]:
    """Raw's rows of `buckets` made equal to the source's: (inserted, updated, deleted)."""
    ranges = None if bits is None else reconcile.bucket_ranges(bits, buckets)
    _stage(job, ranges)
    if ranges is None:
        deleted = deletes.record_deletes(job, _STAGE)
    else:
        scope = pa.table({"b": pa.array(buckets, pa.int64())})
        with registered(job.con, _SCOPE, scope):
            where = sql.in_buckets(job.plan.primary_key[0], ranges, bits, _SCOPE)
            deleted = deletes.record_deletes(job, _STAGE, where)
    inserted, updated = merge.merge(job, _STAGE, None)
    job.run(sql.drop_table(_STAGE))
    return inserted, updated, deleted


def reconcile_content(job: TableJob) -> ContentCheck:
    """Compare the table's full rows with raw's by bucket fingerprints and repair the
    buckets that differ (inside the table's transaction, in the session's snapshot)."""
    bits = _bits(job)
    source = _source_fingerprints(job, bits)
    raw = _raw_fingerprints(job, bits)
    differing = reconcile.differing(source, raw)
    buckets = len(source.keys() | raw.keys())
    if not differing:
        return ContentCheck(buckets=buckets)
    inserted, updated, deleted = _repair(job, bits, differing)
    check = ContentCheck(buckets, len(differing), inserted, updated, deleted)
    if check.repaired:
        log.warning(
            "raw.%s: content reconciliation repaired %d rows the cursor missed (%s)",
            job.plan.name,
            check.repaired,
            check.reason,
        )
    return check
