"""Content reconciliation: raw ends equal to the source whatever `updated_at` says.

Each test changes the source the ways a real Django app and a real operation do without
moving the cursor (`queryset.update()`, SET_NULL, a clock stepped back, a restore), then
runs an incremental extraction and compares every table with the source through an
independent reader (`extract_support.assert_equal`: DB-API driver, Python parsing,
row hashes). SQLite and PostgreSQL both.
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest
import sqlalchemy as sa
from extract_support import HandSource, _ts, assert_equal

from pipelines.extract import ExtractOptions, Source, extract_all
from pipelines.extract import content as content_module

#: No lookback: the cursor re-reads nothing below the watermark, so what the content
#: check repairs is exactly what the cursor missed (HandSource's rows are a minute apart:
#: an hour's lookback would re-read, and so catch, the last sixty).
#: On PostgreSQL the `updated_at` cursor too: its default, the xmin cursor, reads these
#: changes itself (test_extract_xmin), leaving the content check nothing to repair.
_NO_LOOKBACK = dt.timedelta(0)
_CURSOR = {"lookback": _NO_LOOKBACK, "change_cursor": "updated_at"}
EVERY_RUN = ExtractOptions(content_check_every=dt.timedelta(0), **_CURSOR)
NEVER = ExtractOptions(content_check_every=None, **_CURSOR)
DAILY = ExtractOptions(content_check_every=dt.timedelta(days=1), **_CURSOR)


def _sqlite(tmp_path) -> HandSource:
    src = HandSource(f"sqlite:///{tmp_path / 'src.db'}")
    src.populate()
    return src


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def source(request, tmp_path) -> HandSource:
    if request.param == "sqlite":
        src = _sqlite(tmp_path)
    else:
        src = HandSource(request.getfixturevalue("postgres_url"))
        src.populate()
    yield src
    src.engine.dispose()


def _exec(src: HandSource, *statements: tuple[str, dict]) -> None:
    with src.engine.begin() as conn:
        for text, params in statements:
            conn.execute(sa.text(text), params)


def _django_like_changes(src: HandSource) -> None:
    """What `update()`, `bulk_update()` and SET_NULL do: change rows, leave updated_at."""
    _exec(
        src,
        # Admin bulk action: every pending order cancelled (updated_at untouched).
        ("UPDATE orders_order SET status = 'cancelled' WHERE status = 'pending'", {}),
        # An F() expression: total corrected in place.
        ("UPDATE orders_order SET total = total + 1.25 WHERE id IN (7, 9)", {}),
        # bulk_update() of payment statuses.
        ("UPDATE payments_payment SET status = 'refunded' WHERE id IN (1, 2, 3)", {}),
        # A price change through update().
        ("UPDATE menu_meal SET price = 272731.28 WHERE id = 2", {}),
        # SET_NULL: the referrer erased, the referees' referred_by_id nulled.
        ("UPDATE accounts_user SET referred_by_id = NULL WHERE referred_by_id IS NOT NULL", {}),
    )


def test_changes_that_leave_updated_at_are_repaired(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=EVERY_RUN).ok
    _django_like_changes(source)

    missed = extract_all(source.url, str(tmp_path / "cursor-only.duckdb"), options=NEVER)
    assert missed.ok  # (a first copy: exact by construction, the control)
    report = extract_all(source.url, warehouse, options=EVERY_RUN)
    assert report.ok, report.errors
    orders = report.results["orders_order"]
    pending = 120 // 5  # HandSource: ids 1, 6, 11, … are pending (not 7 or 9)
    assert orders.content_checked
    assert orders.rows_updated == pending + 2
    assert orders.rows_repaired == orders.rows_updated
    assert report.results["payments_payment"].rows_updated == 3
    assert report.results["menu_meal"].rows_updated == 1
    assert_equal(source.url, warehouse)
    con = duckdb.connect(warehouse, read_only=True)
    price = con.execute("SELECT price FROM raw.menu_meal WHERE id = 2").fetchone()[0]
    con.close()
    assert str(price) == "272731.28"


def test_without_the_content_check_the_cursor_misses_them(tmp_path):
    """The control: the same changes, only the cursor and the key check: raw is stale."""
    source = _sqlite(tmp_path)
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=NEVER).ok
    _django_like_changes(source)
    report = extract_all(source.url, warehouse, options=NEVER)
    assert report.results["orders_order"].rows_updated == 0
    with pytest.raises(AssertionError):
        assert_equal(source.url, warehouse)


def test_clock_stepped_back_past_the_lookback(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=EVERY_RUN).ok
    # The application clock three hours behind: a new order and an update are dated
    # below the watermark minus the one-hour lookback.
    behind = source.clock - dt.timedelta(hours=3)
    late = source.order_row(0)
    late.update(created_at=_ts(behind, source.dialect), updated_at=_ts(behind, source.dialect))
    source.insert("orders_order", [late])
    _exec(
        source,
        (
            "UPDATE orders_order SET status = 'cancelled', updated_at = :u WHERE id = 4",
            {"u": _ts(behind, source.dialect)},
        ),
    )
    report = extract_all(source.url, warehouse, options=EVERY_RUN)
    orders = report.results["orders_order"]
    assert (orders.rows_inserted, orders.rows_updated) == (1, 1)
    assert orders.rows_repaired == 2
    assert_equal(source.url, warehouse)


def test_a_source_restored_to_an_earlier_state(tmp_path):
    """A failover to a lagging copy: rows raw has are gone, older versions are back."""
    source = _sqlite(tmp_path)
    path = tmp_path / "src.db"
    shutil.copy(path, tmp_path / "backup.db")
    warehouse = str(tmp_path / "w.duckdb")
    source.change()  # inserts, updates (updated_at bumped), deletes
    assert extract_all(source.url, warehouse, options=EVERY_RUN).ok
    assert_equal(source.url, warehouse)
    source.engine.dispose()
    shutil.copy(tmp_path / "backup.db", path)  # the restore
    report = extract_all(source.url, warehouse, options=EVERY_RUN)
    assert report.ok, report.errors
    orders = report.results["orders_order"]
    # change(): +10 orders, 4 cancelled, 2 deleted; restored: the 10 go, 4 revert, 2 return.
    assert (orders.rows_deleted, orders.rows_updated, orders.rows_inserted) == (10, 4, 2)
    assert_equal(source.url, warehouse)


def test_the_cadence(tmp_path):
    source = _sqlite(tmp_path)
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=DAILY).ok  # a full copy counts
    _django_like_changes(source)
    quiet = extract_all(source.url, warehouse, options=DAILY).results["orders_order"]
    assert not quiet.content_checked and quiet.rows_updated == 0
    con = duckdb.connect(warehouse)
    con.execute(
        "UPDATE meta._sync_state SET last_content_check_at = last_content_check_at "
        "- INTERVAL 25 HOUR"
    )
    con.close()
    due = extract_all(source.url, warehouse, options=DAILY).results["orders_order"]
    assert due.content_checked and due.rows_updated == 26
    assert_equal(source.url, warehouse)
    again = extract_all(source.url, warehouse, options=DAILY).results["orders_order"]
    assert not again.content_checked


def test_a_quiet_table_reads_nothing_again_and_one_change_reads_one_bucket(tmp_path, monkeypatch):
    """3,000 orders: a quiet check re-reads no row; one changed row re-reads one bucket."""
    source = HandSource(f"sqlite:///{tmp_path / 'src.db'}")
    source.populate(orders=3000)
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=EVERY_RUN).ok
    staged: list = []
    repair = content_module._stage

    def spy(job, ranges):
        staged.append((job.plan.name, ranges))
        return repair(job, ranges)

    monkeypatch.setattr(content_module, "_stage", spy)
    quiet = extract_all(source.url, warehouse, options=EVERY_RUN)
    assert staged == [] and quiet.results["orders_order"].content_checked
    _exec(source, ("UPDATE orders_order SET status = 'cancelled' WHERE id = 1500", {}))
    changed = extract_all(source.url, warehouse, options=EVERY_RUN)
    assert changed.results["orders_order"].rows_updated == 1
    ((table, ranges),) = staged
    (low, high) = ranges[0]
    assert table == "orders_order" and len(ranges) == 1
    assert low <= 1500 < high and high - low == 64  # 3,000 keys: buckets of 2**6
    assert_equal(source.url, warehouse)


def test_the_bucket_sql_is_the_same_expression_on_both_sides():
    """The fingerprint of the typed stream and of raw: one function, one expression."""
    plan_sql = content_module.fingerprints
    assert plan_sql.__name__ == "fingerprints"
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id BIGINT, amount DECIMAL(12,2), ts TIMESTAMPTZ)")
    con.execute(
        "INSERT INTO t VALUES (1, 1.50, '2026-01-01 00:00:00+00'), (70, NULL, NULL), "
        "(130, 272731.28, '2026-01-02 03:04:05.123456+00')"
    )

    class Col:
        def __init__(self, name, duck_type):
            self.name, self.duck_type = name, duck_type

    class Plan:
        primary_key = ("id",)
        columns = (Col("id", "BIGINT"), Col("amount", "DECIMAL(12,2)"), Col("ts", "TIMESTAMPTZ"))

    rows = dict((b, n) for b, n, _ in con.execute(plan_sql(Plan, "t", 6)).fetchall())
    assert rows == {0: 1, 1: 1, 2: 1}  # 1 >> 6, 70 >> 6, 130 >> 6
    same = con.execute(f"SELECT h FROM ({plan_sql(Plan, 't', None)})").fetchone()[0]
    wide = con.execute(
        "SELECT sum(hash(id, CAST(amount AS DECIMAL(12,2)), CAST(ts AS TIMESTAMPTZ))) FROM "
        "(SELECT id, CAST(amount AS DECIMAL(38,10)) AS amount, ts FROM t)"
    ).fetchone()[0]
    assert same == wide  # raw widened to DECIMAL(38,10) still hashes as the plan's type


@pytest.mark.postgres
def test_postgres_reader_modes_agree(postgres_url, tmp_path):
    """The portable reader repairs the same rows as ADBC (content is reader-independent)."""
    source = HandSource(postgres_url)
    source.populate()
    found = {}
    for reader in ("adbc", "sqlalchemy"):
        warehouse = str(tmp_path / f"{reader}.duckdb")
        src = Source(source.url, reader=reader, batch_rows=16)
        assert extract_all(src, warehouse, options=EVERY_RUN).ok
        found[reader] = warehouse
    _django_like_changes(source)
    for reader, warehouse in found.items():
        src = Source(source.url, reader=reader, batch_rows=16)
        report = extract_all(src, warehouse, options=EVERY_RUN)
        assert report.results["orders_order"].rows_updated == 26, reader
        assert_equal(source.url, warehouse)
    source.engine.dispose()
