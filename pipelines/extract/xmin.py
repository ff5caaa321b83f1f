"""PostgreSQL change capture by the row's `xmin`: every committed insert and update, whatever
the application does with `updated_at`.

Django's `queryset.update()`, `save(update_fields=…)`, `bulk_update()` and `SET_NULL`
cascades leave `updated_at` alone, so a cursor on it misses them. Every row version
PostgreSQL writes carries the id of the transaction that wrote it (`xmin`, 32 bits), so
on PostgreSQL ≥ 13 a table is read by that instead, as Airbyte's Xmin mode does:

- Each read records, from inside its own REPEATABLE READ snapshot, the snapshot's `xmin`
  and `xmax` as 64-bit `xid8` (`pg_snapshot_xmin(pg_current_snapshot())`): every
  transaction below `xmin` had finished when the rows were read, so its changes are in
  raw; a transaction at or above it may commit later. The next read takes the rows whose
  `xmin` lies in `[previous xmin, current xmax)`: a transaction open across the previous
  read (begun before, committed after) is in that range, which is why the watermark is
  the snapshot's `xmin`, not its `xmax`.
- The row's `xmin` is 32 bits and wraps around every 2^32 transactions: the range is
  taken modulo 2^32 and may wrap (`low > high`: `xmin >= low OR xmin < high`). Rows from
  an older epoch whose 32-bit `xmin` falls in the range (frozen rows keep their `xmin`)
  are read again harmlessly: the merge drops rows identical to raw's.
- The whole table is read again instead (a full copy, which also records deletes), with
  the reason in the result and a warning, when the range means nothing: no watermark
  yet (the first run with this cursor: warehouses made before it upgrade in place that
  way), 2^31 or more transactions since the watermark (PostgreSQL itself compares xids
  only within 2^31), the transaction counter gone back (a restore or a failover to a
  lagging replica: xids are handed out again), or another cluster or timeline (the
  system identifier of `pg_control_system()` and the timeline of
  `pg_control_checkpoint()`, both readable by any role).
- A new storage file (TRUNCATE, VACUUM FULL, CLUSTER, a rewriting ALTER TABLE) does not
  need that: a rewrite keeps each row's `xmin` or gives every row the rewriting
  transaction's, which is in the next range, and TRUNCATE's deletes move the delete
  stamp (`PostgresSession.delete_stamp`), which includes the storage file.

Deletes leave no row to read; they are still found by key reconciliation (`deletes`).
With this cursor raw holds every source row after the merge, so a row count that
differs is exactly the deletes not yet recorded.

Elsewhere (SQLite, PostgreSQL < 13, the portable reader, `change_cursor="updated_at"`)
the `updated_at` cursor with its lookback is kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from pipelines.extract import state
from pipelines.extract.plan import TablePlan, quote
from pipelines.extract.state import SyncState, Window

log = logging.getLogger(__name__)

#: The change cursors of `ExtractOptions.change_cursor` (MEALYTICS_PG_CHANGE_CURSOR).
XMIN, UPDATED_AT = "xmin", "updated_at"
CHANGE_CURSORS = (XMIN, UPDATED_AT)

#: A row's `xmin` is 32 bits: it wraps around after this many transactions.
XID_SPAN = 2**32
#: From this many transactions since the watermark on, the 32-bit range is not trusted.
MAX_GAP = 2**31


@dataclass(frozen=True)
class XidSnapshot:
    """The read's snapshot as 64-bit xids, and where the xids come from."""

    #: Every transaction below it had finished: the next read starts here.
    xmin: int
    #: Every transaction at or above it had not finished (or not begun): invisible to the
    #: read. The counter can only be past it later, on the same server.
    xmax: int
    #: "system identifier:timeline" ("" when unreadable): a restore into another cluster,
    #: a failover or a point-in-time recovery changes it, and the xids with it.
    origin: str = ""


@dataclass(frozen=True)
class XidRange:
    """The 32-bit `xmin` values to read: `[low, high)` on the circle of 2^32 xids."""

    low: int
    high: int

    @property
    def wraps(self) -> bool:
        return self.low > self.high

    def __contains__(self, xid: int) -> bool:
        """The condition's meaning, in Python (for the tests)."""
        if self.wraps:
            return xid >= self.low or xid < self.high
        return self.low <= xid < self.high


def xid_range(watermark: int, xmax: int) -> XidRange:
    """The 32-bit range of the 64-bit `[watermark, xmax)` (the caller checked the gap)."""
    return XidRange(watermark % XID_SPAN, xmax % XID_SPAN)


def verdict(previous: SyncState, snap: XidSnapshot) -> XidRange | str:
    """The range to read since `previous`, or why the whole table must be read again."""
    watermark, horizon = previous.xid_watermark, previous.xid_horizon
    if watermark is None:
        return "no xid watermark yet (first run with the xmin cursor)"
    if previous.xid_origin and snap.origin and previous.xid_origin != snap.origin:
        return (
            f"the source is another cluster or timeline (system identifier:timeline "
            f"{previous.xid_origin} → {snap.origin}): restored or failed over"
        )
    seen = max(watermark, horizon or 0)
    back = (seen, snap.xmax) if snap.xmax < seen else (watermark, snap.xmin)
    if back[1] < back[0]:
        return (
            f"the source's transaction counter went back ({back[0]} → {back[1]}): "
            "restored from a backup or failed over to a lagging replica"
        )
    gap = snap.xmax - watermark
    if gap >= MAX_GAP:
        return f"{gap:,} transactions since the last read (2^31 or more)"
    return xid_range(watermark, snap.xmax)


def xmin_condition(since: XidRange):
    """`xmin` (as a bigint) in the range: integer literals only (COPY takes no parameters;
    the reader renders them with SQLAlchemy's literal binds)."""
    xid = sa.cast(sa.cast(sa.literal_column("xmin"), sa.Text), sa.BigInteger)
    low = xid >= sa.literal(int(since.low), sa.BigInteger)
    high = xid < sa.literal(int(since.high), sa.BigInteger)
    return sa.or_(low, high) if since.wraps else sa.and_(low, high)


def _copy_whole(job, raw_exists: bool) -> bool:
    """What makes any table's read a full copy, whatever its cursor (as `plan_window`)."""
    previous = job.state
    return (
        job.options.full_refresh
        or previous is None
        or not raw_exists
        or previous.mode != job.plan.mode
    )


def window(job, base: Window, raw_exists: bool) -> Window:
    """The run's window on the xmin cursor where it applies (a keyed table, the option,
    a snapshot with xids), `base` otherwise; sets `job.xid` to the read's snapshot."""
    plan = job.plan
    if job.options.change_cursor != XMIN or not plan.primary_key:
        return base
    snap = job.session.xid_snapshot()
    if snap is None:
        log.debug("raw.%s: no xid snapshot from this reader: the %s cursor", plan.name, plan.cursor)
        return base
    job.xid = snap
    if _copy_whole(job, raw_exists):
        return base
    found = verdict(job.state, snap)
    if isinstance(found, str):
        log.warning("raw.%s: re-read whole: %s", plan.name, found)
        return Window(full=True, since=None, due=True, reason=f"full copy: {found}")
    due = state.cadence_due(job.state, job.options, job.now)
    return Window(full=False, since=found, due=due, reason="cadence" if due else "cadence not due")


def reread_condition(plan: TablePlan, previous: SyncState | None) -> str:
    """Which staged rows `s` raw may already hold unchanged: successive ranges overlap
    (from one read's snapshot xmin to the next one's xmax), so any row, except in a
    ledger the ids above the highest one copied (raw has none of those)."""
    if plan.mode == "append" and previous is not None and previous.watermark_id is not None:
        return f"s.{quote(plan.cursor)} <= {int(previous.watermark_id)}"
    return "true"


def state_values(job) -> dict:
    """The xid columns of the table's new state row (NULL without the xmin cursor, so a
    later switch back to it starts with a full copy)."""
    snap: XidSnapshot | None = job.xid
    return {
        "xid_watermark": snap.xmin if snap else None,
        "xid_horizon": snap.xmax if snap else None,
        "xid_origin": snap.origin if snap else None,
    }
