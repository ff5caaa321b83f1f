"""PostgreSQL's xmin cursor, as pure functions: the 32-bit range of a 64-bit watermark
(wraparound, epochs), when the whole table must be read again, and the window."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import duckdb
import pytest
from sqlalchemy.dialects import postgresql

from pipelines.extract import xmin
from pipelines.extract.options import ExtractOptions
from pipelines.extract.plan import ColumnPlan, TablePlan
from pipelines.extract.state import SyncState, Window
from pipelines.extract.xmin import MAX_GAP, XID_SPAN, XidRange, XidSnapshot, verdict, xid_range

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 1, 2, tzinfo=UTC)
DAY = dt.timedelta(days=1)
ORIGIN = "7716456683344738201:1"


def _state(watermark=1_000, horizon=1_010, origin=ORIGIN, mode="merge") -> SyncState:
    return SyncState(
        "t", mode, "updated_at", NOW - DAY, None, NOW - DAY, NOW - 2 * DAY, 10,
        xid_watermark=watermark, xid_horizon=horizon, xid_origin=origin,
    )  # fmt: skip


# -- the range ---------------------------------------------------------------------------------


def test_range_within_one_epoch():
    r = xid_range(1_000, 1_010)
    assert (r.low, r.high, r.wraps) == (1_000, 1_010, False)
    assert [x in r for x in (999, 1_000, 1_009, 1_010)] == [False, True, True, False]


def test_range_near_2_32_in_a_later_epoch():
    epoch = 5 << 32
    r = xid_range(epoch + XID_SPAN - 100, epoch + XID_SPAN - 1)
    assert (r.low, r.high, r.wraps) == (XID_SPAN - 100, XID_SPAN - 1, False)
    assert XID_SPAN - 2 in r and XID_SPAN - 1 not in r and 5 not in r


def test_range_across_an_epoch_change_wraps():
    """Watermark in epoch 0 just below 2^32, the counter now in epoch 1: the 32-bit range
    wraps past 2^32 (xids 0, 1 and 2 are never handed out: 3 follows 2^32 − 1)."""
    r = xid_range(XID_SPAN - 10, XID_SPAN + 5)
    assert (r.low, r.high, r.wraps) == (XID_SPAN - 10, 5, True)
    inside = [XID_SPAN - 10, XID_SPAN - 1, 3, 4]
    outside = [XID_SPAN - 11, 5, 100, 2**31]
    assert all(x in r for x in inside) and not any(x in r for x in outside)


def test_empty_range_when_nothing_happened():
    r = xid_range(777, 777)
    assert not r.wraps and not any(x in r for x in (776, 777, 778))


# -- when the range means nothing: read the whole table ----------------------------------------


@pytest.mark.parametrize(
    ("previous", "snap", "expected"),
    [
        (_state(), XidSnapshot(1_005, 1_020, ORIGIN), XidRange(1_000, 1_020)),
        (_state(), XidSnapshot(1_000, 1_010, ORIGIN), XidRange(1_000, 1_010)),  # quiet
        # the epoch changed: the 32-bit range wraps, no full copy
        (
            _state(XID_SPAN - 10, XID_SPAN - 2),
            XidSnapshot(XID_SPAN + 4, XID_SPAN + 5, ORIGIN),
            XidRange(XID_SPAN - 10, 5),
        ),
        # just under 2^31 transactions since the watermark: still a range
        (
            _state(),
            XidSnapshot(1_000 + MAX_GAP - 1, 1_000 + MAX_GAP - 1, ORIGIN),
            XidRange(1_000, 1_000 + MAX_GAP - 1),
        ),
        # an unreadable origin (revoked functions) on either side is not a change
        (_state(origin=""), XidSnapshot(1_005, 1_020, ORIGIN), XidRange(1_000, 1_020)),
        (_state(origin=None), XidSnapshot(1_005, 1_020, ""), XidRange(1_000, 1_020)),
        # a state written by an older version: no horizon, the watermark alone
        (_state(horizon=None), XidSnapshot(1_005, 1_020, ORIGIN), XidRange(1_000, 1_020)),
    ],
)
def test_incremental_range(previous, snap, expected):
    assert verdict(previous, snap) == expected


@pytest.mark.parametrize(
    ("previous", "snap", "reason"),
    [
        (_state(watermark=None, horizon=None), XidSnapshot(5, 9, ORIGIN), "no xid watermark yet"),
        # 2^31 or more transactions since the watermark
        (_state(), XidSnapshot(1_000 + MAX_GAP, 1_000 + MAX_GAP, ORIGIN), "2^31 or more"),
        (_state(), XidSnapshot(1_001, 1_000 + XID_SPAN + 5, ORIGIN), "2^31 or more"),
        # the counter went back: a restore (below the watermark) ...
        (_state(), XidSnapshot(700, 750, ORIGIN), "transaction counter went back (1010 → 750)"),
        # ... or a failover to a replica that had not replayed the last read's transactions
        (_state(), XidSnapshot(1_001, 1_008, ORIGIN), "went back (1010 → 1008)"),
        # a transaction older than the watermark running again (a snapshot xmin below it)
        (_state(), XidSnapshot(990, 1_020, ORIGIN), "went back (1000 → 990)"),
        # the same 32-bit xids, one epoch lower (the stored watermark is above the counter)
        (
            _state(XID_SPAN + 1_000, XID_SPAN + 1_010),
            XidSnapshot(1_005, 1_020, ORIGIN),
            "went back",
        ),
        # another cluster (pg_dump/restore, pg_upgrade) or timeline (promotion, PITR)
        (_state(), XidSnapshot(1_005, 1_020, "42:1"), f"{ORIGIN} → 42:1"),
        (_state(), XidSnapshot(1_005, 1_020, ORIGIN[:-1] + "2"), "restored or failed over"),
    ],
)
def test_whole_table_again(previous, snap, reason):
    found = verdict(previous, snap)
    assert isinstance(found, str) and reason in found


# -- the condition, as the reader renders it for COPY ------------------------------------------


def _rendered(r: XidRange) -> str:
    expr = xmin.xmin_condition(r)
    return str(
        expr.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


def test_condition_is_integer_literals():
    assert _rendered(XidRange(1_000, 1_020)) == (
        "CAST(CAST(xmin AS TEXT) AS BIGINT) >= 1000 AND CAST(CAST(xmin AS TEXT) AS BIGINT) < 1020"
    )
    assert " OR " in _rendered(XidRange(XID_SPAN - 10, 5))


@pytest.mark.parametrize(
    "r", [XidRange(1_000, 1_020), XidRange(XID_SPAN - 10, 5), XidRange(7, 7), XidRange(0, 3)]
)
def test_condition_means_the_range(r):
    """The rendered SQL selects exactly the xids `in` the range (evaluated by DuckDB on a
    column named xmin)."""
    xids = sorted({0, 1, 2, 3, 4, 5, 6, 7, 8, 999, 1_000, 1_019, 1_020, 2**31, XID_SPAN - 11,
                   XID_SPAN - 10, XID_SPAN - 1})  # fmt: skip
    con = duckdb.connect()
    con.execute("CREATE TABLE t (xmin BIGINT)")
    con.executemany("INSERT INTO t VALUES (?)", [[x] for x in xids])
    query = f"SELECT xmin FROM t WHERE {_rendered(r)} ORDER BY 1"
    got = [x for (x,) in con.execute(query).fetchall()]
    assert got == [x for x in xids if x in r]


# -- the window ----------------------------------------------------------------------------------

ID = ColumnPlan("id", "integer", "INTEGER", "INTEGER")
UPDATED = ColumnPlan("updated_at", "timestamp", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP")
CODE = ColumnPlan("code", "text", "VARCHAR", "TEXT")
ORDERS = TablePlan("orders", (ID, UPDATED), ("id",), "merge", "updated_at", "postgresql")
LEDGER = TablePlan("ledger", (ID,), ("id",), "append", "id", "postgresql")
CODES = TablePlan("codes", (CODE,), ("code",), "replace", None, "postgresql")
KEYLESS = TablePlan("log", (CODE,), (), "replace", None, "postgresql")
INCREMENTAL = Window(False, NOW - DAY, False, "cadence not due")
FULL = Window(True, None, True, "full copy")


@dataclass
class _Session:
    snap: XidSnapshot | None

    def xid_snapshot(self):
        return self.snap


@dataclass
class _Job:
    plan: TablePlan
    state: SyncState | None
    options: ExtractOptions
    session: _Session
    now: dt.datetime = NOW
    xid: object | None = None


SNAP = XidSnapshot(1_005, 1_020, ORIGIN)


def _window(plan, state, base=INCREMENTAL, snap=SNAP, options=None, exists=True):
    job = _Job(plan, state, options or ExtractOptions(), _Session(snap))
    return xmin.window(job, base, exists), job.xid


@pytest.mark.parametrize("plan", [ORDERS, LEDGER])
def test_window_reads_the_xid_range(plan):
    window, xid = _window(plan, _state(mode=plan.mode))
    assert window == Window(False, XidRange(1_000, 1_020), False, "cadence not due")
    assert xid == SNAP


def test_window_of_a_keyed_table_without_cursor_is_incremental_too():
    window, _ = _window(CODES, _state(mode="replace"), base=FULL)
    assert window == Window(False, XidRange(1_000, 1_020), False, "cadence not due")


def test_window_keeps_the_cadence():
    old = replace(_state(), last_delete_check_at=NOW - 8 * DAY)
    assert _window(ORDERS, old)[0].reason == "cadence"


@pytest.mark.parametrize(
    ("plan", "state", "base", "snap", "options", "exists"),
    [
        (ORDERS, _state(), INCREMENTAL, None, None, True),  # PostgreSQL < 13, SQLite, portable
        (ORDERS, _state(), INCREMENTAL, SNAP, ExtractOptions(change_cursor="updated_at"), True),
        (KEYLESS, _state(mode="replace"), FULL, SNAP, None, True),
    ],
)
def test_window_without_the_xmin_cursor_is_the_base(plan, state, base, snap, options, exists):
    window, xid = _window(plan, state, base, snap, options, exists)
    assert (window, xid) == (base, None)


@pytest.mark.parametrize(
    ("state", "options", "exists"),
    [
        (None, None, False),  # first run
        (_state(), ExtractOptions(full_refresh=True), True),
        (_state(), None, False),  # raw table dropped
        (_state(mode="append"), None, True),  # mode changed
    ],
)
def test_window_full_copy_keeps_its_reason_and_records_the_snapshot(state, options, exists):
    window, xid = _window(ORDERS, state, FULL, SNAP, options, exists)
    assert (window, xid) == (FULL, SNAP)


def test_window_full_copy_says_why(caplog):
    restored = XidSnapshot(700, 750, "42:1")
    window, xid = _window(ORDERS, _state(), snap=restored)
    assert (window.full, window.since, window.due, xid) == (True, None, True, restored)
    assert window.reason.startswith("full copy: the source is another cluster or timeline")
    assert "re-read whole" in caplog.text


def test_state_values():
    job = _Job(ORDERS, None, ExtractOptions(), _Session(None), xid=SNAP)
    assert xmin.state_values(job) == {
        "xid_watermark": 1_005,
        "xid_horizon": 1_020,
        "xid_origin": ORIGIN,
    }
    job.xid = None
    assert set(xmin.state_values(job).values()) == {None}


def test_change_cursor_option_is_checked():
    with pytest.raises(ValueError, match="change_cursor 'wal'"):
        ExtractOptions(change_cursor="wal")


# -- what a re-read can be -----------------------------------------------------------------------


def test_reread_condition():
    """Successive ranges overlap, so any staged row may be a re-read; in a ledger only
    ids up to the highest copied (raw has none above it), so raw is compared in that key
    range only (`merge_sql.rows_between` with integer bounds)."""
    from pipelines.extract import merge_sql

    assert xmin.reread_condition(ORDERS, _state()) == "true"
    assert xmin.reread_condition(LEDGER, replace(_state(mode="append"), watermark_id=41)) == (
        's."id" <= 41'
    )
    assert xmin.reread_condition(LEDGER, None) == "true"
    assert merge_sql.rows_between("raw.t", "id", 3, 41) == (
        '(SELECT * FROM raw.t WHERE "id" BETWEEN 3 AND 41)'
    )


def test_postgresql_before_13_has_no_xid_snapshot():
    """No `xid8` before PostgreSQL 13: the reader says so, and the table keeps the
    `updated_at` cursor (the snapshot query is never sent)."""
    from pipelines.extract.readers.postgres import PostgresSession

    class Old(PostgresSession):
        def __init__(self):
            self.sent = []

        def fetch(self, query):
            self.sent.append(str(query))
            return [(120_017, True)]

    old = Old()
    assert old.xid_snapshot() is None
    assert len(old.sent) == 1 and "server_version_num" in old.sent[0]
