"""The sync state's decisions: what a run reads of a table, and the watermark it leaves."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.extract.options import ExtractOptions
from pipelines.extract.plan import ColumnPlan, TablePlan
from pipelines.extract.state import SyncState, cap_future, next_watermark, plan_window

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 1, 2, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

ID = ColumnPlan("id", "integer", "BIGINT", "INTEGER")
UPDATED = ColumnPlan("updated_at", "timestamp", "TIMESTAMP WITH TIME ZONE", "DATETIME")
ORDERS = TablePlan("orders", (ID, UPDATED), ("id",), "merge", "updated_at", "sqlite")
LEDGER = TablePlan("ledger", (ID,), ("id",), "append", "id", "sqlite")
LOOKUP = TablePlan("lookup", (ID,), (), "replace", None, "sqlite")


def _state(mode="merge", wm_ts=NOW - DAY, wm_id=None, checked=NOW - 2 * DAY) -> SyncState:
    return SyncState("t", mode, None, wm_ts, wm_id, NOW - DAY, checked, 10)


WEEKLY = ExtractOptions()


@pytest.mark.parametrize(
    ("plan", "state", "exists", "options", "full", "since", "due", "reason"),
    [
        (ORDERS, None, False, WEEKLY, True, None, True, "full copy"),
        (ORDERS, _state(), False, WEEKLY, True, None, True, "full copy"),  # raw table dropped
        (ORDERS, _state(), True, ExtractOptions(full_refresh=True), True, None, True, "full copy"),
        (LOOKUP, _state("replace"), True, WEEKLY, True, None, True, "full copy"),
        (ORDERS, _state("append"), True, WEEKLY, True, None, True, "full copy"),  # mode changed
        (ORDERS, _state(), True, WEEKLY, False, NOW - DAY - HOUR, False, "cadence not due"),
        (
            ORDERS,
            _state(checked=NOW - 8 * DAY),
            True,
            WEEKLY,
            False,
            NOW - DAY - HOUR,
            True,
            "cadence",
        ),
        (ORDERS, _state(checked=None), True, WEEKLY, False, NOW - DAY - HOUR, True, "cadence"),
        (
            ORDERS,
            _state(),
            True,
            ExtractOptions(delete_check_every=dt.timedelta(0)),
            False,
            NOW - DAY - HOUR,
            True,
            "cadence",
        ),
        (
            ORDERS,
            _state(checked=None),
            True,
            ExtractOptions(delete_check_every=None),
            False,
            NOW - DAY - HOUR,
            False,
            "cadence not due",
        ),
        (ORDERS, _state(wm_ts=None), True, WEEKLY, False, None, False, "cadence not due"),
        (LEDGER, _state("append", None, 41), True, WEEKLY, False, 41, False, "cadence not due"),
    ],  # fmt: skip
)
def test_plan_window(plan, state, exists, options, full, since, due, reason):
    window = plan_window(plan, state, exists, options, NOW)
    assert (window.full, window.since, window.due, window.reason) == (full, since, due, reason)


@pytest.mark.parametrize(
    ("plan", "state", "full", "high", "expected"),
    [
        (ORDERS, None, True, NOW - HOUR, (NOW - HOUR, None)),
        (ORDERS, _state(wm_ts=NOW - HOUR), False, NOW - DAY, (NOW - HOUR, None)),  # never back
        (ORDERS, _state(wm_ts=NOW - DAY), False, NOW - HOUR, (NOW - HOUR, None)),
        (ORDERS, _state(wm_ts=NOW - HOUR), False, None, (NOW - HOUR, None)),  # nothing read
        (ORDERS, _state(wm_ts=NOW - HOUR), True, NOW - DAY, (NOW - DAY, None)),  # full: reset
        (LEDGER, _state("append", None, 41), False, 57, (None, 57)),
        (LEDGER, _state("append", None, 41), False, None, (None, 41)),
    ],
)
def test_next_watermark(plan, state, full, high, expected):
    assert next_watermark(plan, state, full, high) == expected


def test_a_future_dated_row_caps_the_watermark_at_the_run_start(caplog):
    assert cap_future(ORDERS, NOW - HOUR, NOW) == NOW - HOUR
    with caplog.at_level("WARNING"):
        assert cap_future(ORDERS, NOW + DAY, NOW) == NOW
    assert "in the future" in caplog.text
    assert cap_future(LEDGER, 10**9, NOW) == 10**9  # ids are not times
