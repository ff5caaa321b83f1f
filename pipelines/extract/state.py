"""The sync state: per table, where the last run stopped, and what this run reads.

`meta._sync_state` holds one row per table: the watermark (a timestamp for `merge`
tables, an id for `append` tables), when the table last ran, when its keys were last
reconciled, and the counts of that run. It is written in the same transaction as the
table's rows, so the two never disagree. From the previous row and the options this
module decides the run's window (`plan_window`) and the next watermark
(`next_watermark`): pure functions, tested on their own.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import duckdb

from pipelines.extract import warehouse as wh
from pipelines.extract.options import ExtractOptions
from pipelines.extract.plan import TablePlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncState:
    table_name: str
    mode: str
    cursor_column: str | None
    watermark_ts: dt.datetime | None
    watermark_id: int | None
    last_run_at: dt.datetime | None
    last_delete_check_at: dt.datetime | None
    row_count: int | None
    #: The source's delete counter when the keys were last reconciled (PostgreSQL).
    delete_stamp: str | None = None
    last_full_refresh_at: dt.datetime | None = None
    #: When the table's full rows were last reconciled with the source (`content`).
    last_content_check_at: dt.datetime | None = None
    #: PostgreSQL's xmin cursor (`xmin`): the read's snapshot xmin and xmax (64-bit
    #: xids) and the source's "system identifier:timeline"; None without that cursor.
    xid_watermark: int | None = None
    xid_horizon: int | None = None
    xid_origin: str | None = None


_COLUMNS = (
    "table_name, mode, cursor_column, watermark_ts, watermark_id, last_run_at, "
    "last_delete_check_at, row_count, delete_stamp, last_full_refresh_at, last_content_check_at, "
    "xid_watermark, xid_horizon, xid_origin"
)


def read_state(con: duckdb.DuckDBPyConnection, table: str) -> SyncState | None:
    rows = wh.run(
        con, f"SELECT {_COLUMNS} FROM {wh.META}.{wh.SYNC_STATE} WHERE table_name = ?", [table]
    )
    return SyncState(*rows[0]) if rows else None


def write_state(con: duckdb.DuckDBPyConnection, **values) -> None:
    """Replace the table's state row (inside the caller's transaction)."""
    table = f"{wh.META}.{wh.SYNC_STATE}"
    wh.run(con, f"DELETE FROM {table} WHERE table_name = ?", [values["table_name"]])
    names = list(values)
    wh.run(
        con,
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        [values[n] for n in names],
    )


@dataclass(frozen=True)
class Window:
    """What a run reads of a table, and whether its keys are due for reconciliation."""

    #: Everything is read (first run, full refresh, `replace` mode, a changed mode).
    full: bool
    #: The cursor's lower bound: `updated_at` minus the lookback, or the last id; None: all.
    since: object | None
    #: Every key is to be reconciled this run (a full copy, or the cadence is due).
    due: bool
    #: Why: "full copy", "cadence", "cadence not due" (the probe may still fire).
    reason: str


def plan_window(
    plan: TablePlan,
    state: SyncState | None,
    raw_exists: bool,
    options: ExtractOptions,
    now: dt.datetime,
) -> Window:
    """The run's window of `plan`'s table, from its previous state."""
    full = (
        options.full_refresh
        or plan.mode == "replace"
        or state is None
        or not raw_exists
        or state.mode != plan.mode
    )
    if full:
        return Window(full=True, since=None, due=True, reason="full copy")
    if plan.mode == "merge":
        since = state.watermark_ts - options.lookback if state.watermark_ts else None
    else:
        since = state.watermark_id
    due = cadence_due(state, options, now)
    return Window(full=False, since=since, due=due, reason="cadence" if due else "cadence not due")


def cadence_due(state: SyncState, options: ExtractOptions, now: dt.datetime) -> bool:
    """Whether every key is due for reconciliation whatever the probe says."""
    every = options.delete_check_every
    return every is not None and (
        state.last_delete_check_at is None or now - state.last_delete_check_at >= every
    )


def cap_future(plan: TablePlan, high, now: dt.datetime):
    """The highest `updated_at` read, at most `now`: a row dated in the future (a skewed
    application clock) must not lift the watermark above the time of changes still to
    come, so those rows are re-read (and found unchanged) until time catches up."""
    if plan.mode != "merge" or high is None or high <= now:
        return high
    log.warning(
        "raw.%s: %s = %s is in the future; watermark capped at %s",
        plan.name,
        plan.cursor,
        high,
        now,
    )
    return now


def next_watermark(
    plan: TablePlan, state: SyncState | None, full: bool, high
) -> tuple[dt.datetime | None, int | None]:
    """(watermark_ts, watermark_id) after a run that read up to `high` (already capped):
    never below the previous one, except after a full copy."""
    watermark_ts = state.watermark_ts if state and not full else None
    watermark_id = state.watermark_id if state and not full else None
    if plan.mode == "merge" and high is not None:
        watermark_ts = max(high, watermark_ts) if watermark_ts else high
    elif plan.mode == "append" and high is not None:
        watermark_id = max(high, watermark_id) if watermark_id is not None else high
    return watermark_ts, watermark_id


def watermark_text(watermark_ts: dt.datetime | None, watermark_id: int | None) -> str | None:
    """The watermark as the result and the asset's metadata show it."""
    if watermark_ts:
        return watermark_ts.isoformat()
    return str(watermark_id) if watermark_id is not None else None
