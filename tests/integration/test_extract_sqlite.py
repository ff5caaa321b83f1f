"""Extraction from a real SQLite source into a real DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from decimal import Decimal

import duckdb
import pytest
from extract_support import (
    COUNTS_AFTER_CHANGE,
    TABLES,
    HandSource,
    assert_equal,
    counts,
    table_hash,
    warehouse_rows,
)

from pipelines.extract import (
    ExtractOptions,
    SchemaDriftError,
    Source,
    SourceUnavailableError,
    TableSelection,
    extract_all,
)

#: The key reconciliation alone (probe, cadence, buckets of keys), without the content
#: reconciliation that would otherwise find the same rows first (tested in test_extract_content).
KEYS = ExtractOptions(content_check_every=None)


@pytest.fixture
def source(tmp_path) -> HandSource:
    src = HandSource(f"sqlite:///{tmp_path / 'source.db'}")
    src.populate()
    return src


@pytest.fixture
def warehouse(tmp_path) -> str:
    return str(tmp_path / "warehouse.duckdb")


def snapshot(path: str) -> dict:
    """Every raw table's content hash, and the sync state: what a crash must not change."""
    con = duckdb.connect(path, read_only=True)
    try:
        state = con.execute(
            "SELECT * EXCLUDE (duration_s) FROM meta._sync_state ORDER BY table_name"
        ).fetchall()
        deleted = con.execute("SELECT count(*) FROM meta._deleted_rows").fetchall()
    finally:
        con.close()
    return {
        "tables": {t: table_hash(warehouse_rows(path, t)) for t in TABLES},
        "state": state,
        "deleted": deleted,
    }


@pytest.mark.parametrize("reader", ["adbc", "sqlalchemy"])
def test_first_copy_then_changes_then_quiet_rerun(source, warehouse, reader):
    src = Source(source.url, reader=reader)
    first = extract_all(src, warehouse)
    assert first.ok, first.errors
    assert counts(first) == {
        "accounts_user": (30, 0, 0, 30),
        "accounts_website": (2, 0, 0, 2),
        "campaigns_campaign": (0, 0, 0, 0),
        "corporate_contract": (3, 0, 0, 3),
        "menu_meal": (6, 0, 0, 6),
        "orders_order": (120, 0, 0, 120),
        "payments_payment": (60, 0, 0, 60),
        "payments_refund": (12, 0, 0, 12),
    }
    assert_equal(source.url, warehouse)

    source.change()
    second = extract_all(src, warehouse)
    assert second.ok, second.errors
    assert counts(second) == COUNTS_AFTER_CHANGE
    assert second.results["payments_refund"].mode == "append"
    assert second.results["payments_refund"].watermark == "16"
    assert_equal(source.url, warehouse)

    con = duckdb.connect(warehouse, read_only=True)
    audit = con.execute(
        "SELECT table_name, row_id, row_key FROM meta._deleted_rows ORDER BY ALL"
    ).fetchall()
    con.close()
    assert audit == [
        ("accounts_user", 30, "30"),
        ("orders_order", 6, "6"),
        ("orders_order", 11, "11"),
        ("payments_payment", 6, "6"),
        ("payments_refund", 2, "2"),
    ]

    before = snapshot(warehouse)
    third = extract_all(src, warehouse)
    assert {n: r[:3] for n, r in counts(third).items()} == {t: (0, 0, 0) for t in TABLES}
    after = snapshot(warehouse)
    assert after["tables"] == before["tables"]
    assert after["deleted"] == before["deleted"]


def test_exact_types_and_every_timestamp_form(source, warehouse):
    # Small batches: the first batches of delivered_at are all NULL, and NUMERIC values
    # come as INTEGER and REAL storage classes mixed.
    report = extract_all(Source(source.url, batch_rows=16), warehouse)
    assert report.ok, report.errors
    con = duckdb.connect(warehouse, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'orders_order'"
        ).fetchall()
    )
    assert types["subtotal"] == "DECIMAL(12,2)"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["id"] == "BIGINT"
    assert types["status"] == "VARCHAR"
    rows = con.execute("SELECT created_at FROM raw.accounts_website ORDER BY id").fetchall()
    raw_text = (
        sqlite3.connect(source.url.removeprefix("sqlite:///"))
        .execute("SELECT created_at, updated_at FROM accounts_website ORDER BY id")
        .fetchall()
    )
    # The source holds two different ISO forms; both land as the same kind of instant.
    assert raw_text[0][0] == rows[0][0].strftime("%Y-%m-%d %H:%M:%S.%f")
    assert rows[1][0] == dt.datetime.fromisoformat(raw_text[1][0]).replace(tzinfo=dt.UTC)
    user_types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'accounts_user'"
        ).fetchall()
    )
    assert user_types["is_active"] == "BOOLEAN"
    contract = con.execute(
        "SELECT start_date, contract_value FROM raw.corporate_contract WHERE id = 1"
    ).fetchall()
    assert contract[0][0] == dt.date(2026, 1, 1)
    assert isinstance(contract[0][1], Decimal)
    con.close()
    assert_equal(source.url, warehouse)


def test_real_money_rounding(tmp_path, warehouse):
    """A NUMERIC stored as binary REAL comes back as the exact cents it meant."""
    path = tmp_path / "money.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount NUMERIC(12,2))")
    values = [0.29, 1234567890.12, 12, 0.1 + 0.2, 19.999999999, None, "7.05", 1e-3]
    db.executemany("INSERT INTO ledger VALUES (?, ?)", list(enumerate(values, 1)))
    db.commit()
    db.close()
    assert extract_all(f"sqlite:///{path}", warehouse).ok
    con = duckdb.connect(warehouse, read_only=True)
    got = [r[0] for r in con.execute("SELECT amount FROM raw.ledger ORDER BY id").fetchall()]
    con.close()
    assert got == [
        Decimal("0.29"),
        Decimal("1234567890.12"),
        Decimal("12.00"),
        Decimal("0.30"),
        Decimal("20.00"),
        None,
        Decimal("7.05"),
        Decimal("0.00"),
    ]


class Crash(RuntimeError):
    pass


def test_crash_mid_table_leaves_previous_state_and_rerun_converges(source, warehouse):
    assert extract_all(source.url, warehouse).ok
    source.change()
    before = snapshot(warehouse)

    seen = 0

    def explode(batch):
        nonlocal seen
        seen += 1
        if seen == 3:
            raise Crash("killed after two batches")

    small = Source(source.url, batch_rows=8)
    report = extract_all(
        small, warehouse, options=ExtractOptions(on_batch=explode), tables=["orders_order"]
    )
    assert isinstance(report.errors["orders_order"], Crash)
    assert snapshot(warehouse) == before

    rerun = extract_all(source.url, warehouse)
    assert rerun.ok, rerun.errors
    assert counts(rerun)["orders_order"] == (10, 4, 2, 128)
    assert_equal(source.url, warehouse)


def test_full_refresh_recopies_and_counts(source, warehouse):
    assert extract_all(source.url, warehouse).ok
    source.change()
    report = extract_all(source.url, warehouse, options=ExtractOptions(full_refresh=True))
    assert report.ok, report.errors
    assert all(r.full_refresh for r in report.results.values())
    assert counts(report)["orders_order"] == (10, 4, 2, 128)
    assert_equal(source.url, warehouse)


def test_delete_check_cadence(source, warehouse):
    assert extract_all(source.url, warehouse).ok
    source.change()
    # Without the probe, the cadence alone decides when keys are reconciled.
    never = ExtractOptions(delete_check_every=None, delete_probe=False, content_check_every=None)
    report = extract_all(source.url, warehouse, options=never, tables=["orders_order"])
    assert counts(report)["orders_order"] == (10, 4, 0, 130)
    assert report.results["orders_order"].delete_check_reason == "cadence not due"
    daily = ExtractOptions(
        delete_check_every=dt.timedelta(days=1), delete_probe=False, content_check_every=None
    )
    report = extract_all(source.url, warehouse, options=daily, tables=["orders_order"])
    # The first run checked deletes less than a day ago: not due yet.
    assert counts(report)["orders_order"] == (0, 0, 0, 130)
    every = ExtractOptions(
        delete_check_every=dt.timedelta(0), delete_probe=False, content_check_every=None
    )
    report = extract_all(source.url, warehouse, options=every, tables=["orders_order"])
    assert counts(report)["orders_order"] == (0, 0, 2, 128)
    assert report.results["orders_order"].delete_check_reason == "cadence"
    assert_equal(source.url, warehouse, tables=["orders_order"])


def test_delete_probe_finds_deletes_between_full_checks(source, warehouse):
    """The default: keys reconciled weekly, and each run where the row counts differ."""
    assert extract_all(source.url, warehouse, options=KEYS).ok
    source.change()
    report = extract_all(source.url, warehouse, tables=["orders_order"], options=KEYS)
    result = report.results["orders_order"]
    # 130 source rows after the change, raw 132 after the merge: the probe fires.
    assert counts(report)["orders_order"] == (10, 4, 2, 128)
    assert result.delete_check_reason == "probe: source has 128 rows, raw 130"
    assert_equal(source.url, warehouse, tables=["orders_order"])
    # Quiet: the counts agree, no key is read.
    report = extract_all(source.url, warehouse, tables=["orders_order"], options=KEYS)
    assert report.results["orders_order"].delete_check_reason == "probe: quiet"
    assert not report.results["orders_order"].delete_checked


def test_delete_masked_by_a_late_insert_waits_for_the_cadence(source, warehouse):
    """A delete and a row committed too late for the cursor, in one table, leave the count
    equal: the probe cannot see them; the weekly (here: forced) reconciliation does."""
    assert extract_all(source.url, warehouse, options=KEYS).ok
    db = sqlite3.connect(source.url.removeprefix("sqlite:///"))
    (old,) = db.execute("SELECT min(updated_at) FROM orders_order").fetchone()
    (victim,) = db.execute("SELECT max(id) FROM orders_order").fetchone()
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("DELETE FROM orders_order WHERE id = ?", [victim])
    # A row dated long before the watermark: the cursor never reads it.
    cur = db.execute("SELECT * FROM orders_order ORDER BY id LIMIT 1")
    names = [d[0] for d in cur.description]
    row = dict(zip(names, cur.fetchone(), strict=True))
    row.update(id=victim + 1000, updated_at=old)
    db.execute(
        f"INSERT INTO orders_order ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        [row[n] for n in names],
    )
    db.commit()
    db.close()
    report = extract_all(source.url, warehouse, tables=["orders_order"], options=KEYS)
    assert report.results["orders_order"].delete_check_reason == "probe: quiet"
    assert counts(report)["orders_order"][2] == 0
    forced = ExtractOptions(delete_check_every=dt.timedelta(0), content_check_every=None)
    report = extract_all(source.url, warehouse, options=forced, tables=["orders_order"])
    result = report.results["orders_order"]
    assert (result.rows_deleted, result.rows_backfilled) == (1, 1)
    assert_equal(source.url, warehouse, tables=["orders_order"])


def test_selection_excludes_bookkeeping_tables(source, warehouse):
    db = sqlite3.connect(source.url.removeprefix("sqlite:///"))
    db.execute("CREATE TABLE seeds_simulation (id INTEGER PRIMARY KEY, day TEXT)")
    db.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT)")
    db.commit()
    db.close()
    report = extract_all(source.url, warehouse, options=KEYS)
    assert sorted(report.results) == sorted(TABLES)
    only = TableSelection(include=("orders_*", "seeds_*"), exclude=())
    report = extract_all(source.url, warehouse, selection=only)
    assert sorted(report.results) == ["orders_order", "seeds_simulation"]


def test_unreachable_source_changes_nothing(source, tmp_path, warehouse):
    missing = tmp_path / "nope.db"
    with pytest.raises(SourceUnavailableError, match="nope.db"):
        extract_all(f"sqlite:///{missing}", str(tmp_path / "fresh.duckdb"))
    assert not (tmp_path / "fresh.duckdb").exists()
    assert not missing.exists()

    assert extract_all(source.url, warehouse, options=KEYS).ok
    before = snapshot(warehouse)
    source_file = tmp_path / "source.db"
    source_file.rename(tmp_path / "moved.db")
    with pytest.raises(SourceUnavailableError, match="source.db"):
        extract_all(source.url, warehouse, options=KEYS)
    assert snapshot(warehouse) == before


def test_extraction_connection_cannot_write(source):
    with Source(source.url).session() as session:
        with pytest.raises(Exception, match="readonly|read-only|read only"):
            session.execute("DELETE FROM orders_order")
    with Source(source.url, reader="sqlalchemy").session() as session:
        with pytest.raises(Exception, match="readonly|read-only|read only"):
            session.execute("DELETE FROM orders_order")
    db = sqlite3.connect(source.url.removeprefix("sqlite:///"))
    assert db.execute("SELECT count(*) FROM orders_order").fetchone() == (120,)


def test_drift_added_and_dropped_columns(source, warehouse, caplog):
    """A column outside the contract may go (a contract column may not: test_guards)."""
    db = sqlite3.connect(source.url.removeprefix("sqlite:///"))
    db.execute("ALTER TABLE menu_meal ADD COLUMN legacy_category TEXT")
    db.execute("UPDATE menu_meal SET legacy_category = category")
    db.commit()
    assert extract_all(source.url, warehouse, options=KEYS).ok
    db.execute("ALTER TABLE menu_meal ADD COLUMN spice_level INTEGER")
    db.execute("ALTER TABLE menu_meal DROP COLUMN legacy_category")
    db.execute(
        "UPDATE menu_meal SET spice_level = id * 2, updated_at = '2026-03-01 00:00:00' "
        "WHERE id <= 2"
    )
    db.commit()
    db.close()
    with caplog.at_level(logging.WARNING):
        report = extract_all(source.url, warehouse, options=KEYS)
    assert report.ok, report.errors
    meal = report.results["menu_meal"]
    assert (meal.columns_added, meal.columns_dropped) == (("spice_level",), ("legacy_category",))
    assert "'legacy_category' is gone from the source" in caplog.text
    con = duckdb.connect(warehouse, read_only=True)
    rows = con.execute(
        "SELECT id, spice_level, legacy_category FROM raw.menu_meal ORDER BY id"
    ).fetchall()
    con.close()
    # Updated rows carry the new column and NULL in the dropped one; others keep history.
    assert rows == [
        (1, 2, None),
        (2, 4, None),
        (3, None, "main"),
        (4, None, "main"),
        (5, None, "main"),
        (6, None, "main"),
    ]


def test_drift_incompatible_type_fails_that_table_only(source, warehouse):
    assert extract_all(source.url, warehouse, options=KEYS).ok
    db = sqlite3.connect(source.url.removeprefix("sqlite:///"))
    db.executescript(
        """
        ALTER TABLE corporate_contract RENAME TO old_contract;
        CREATE TABLE corporate_contract (id INTEGER PRIMARY KEY, website_id INTEGER,
            company_name VARCHAR(200), contract_value VARCHAR(30), billing_cycle VARCHAR(20),
            start_date DATE, end_date DATE, status VARCHAR(20), created_at DATETIME,
            updated_at DATETIME);
        INSERT INTO corporate_contract SELECT * FROM old_contract;
        DROP TABLE old_contract;
        """
    )
    db.close()
    source.change()
    report = extract_all(source.url, warehouse, options=KEYS)
    err = report.errors["corporate_contract"]
    assert isinstance(err, SchemaDriftError)
    message = str(err)
    for part in ("corporate_contract", "contract_value", "DECIMAL(12,2)", "VARCHAR(30)"):
        assert part in message
    assert sorted(report.results) == sorted(set(TABLES) - {"corporate_contract"})
    assert_equal(source.url, warehouse, tables=set(TABLES) - {"corporate_contract"})


def test_drift_widening_is_followed(tmp_path, warehouse):
    path = tmp_path / "w.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v NUMERIC(6,2), updated_at DATETIME)")
    db.execute("INSERT INTO t VALUES (1, 1234.56, '2026-01-01 00:00:00')")
    db.commit()
    assert extract_all(f"sqlite:///{path}", warehouse, options=KEYS).ok
    db.executescript(
        """
        ALTER TABLE t RENAME TO t_old;
        CREATE TABLE t (id INTEGER PRIMARY KEY, v NUMERIC(14,2), updated_at DATETIME);
        INSERT INTO t SELECT * FROM t_old; DROP TABLE t_old;
        INSERT INTO t VALUES (2, 123456789012.34, '2026-01-02 00:00:00');
        """
    )
    db.close()
    report = extract_all(f"sqlite:///{path}", warehouse, options=KEYS)
    assert report.ok, report.errors
    assert report.results["t"].columns_widened == ("v",)
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute("SELECT v FROM raw.t ORDER BY id").fetchall() == [
        (Decimal("1234.56"),),
        (Decimal("123456789012.34"),),
    ]
    con.close()


def test_rows_the_cursor_cannot_see_are_backfilled_by_key(source, warehouse):
    assert extract_all(source.url, warehouse, options=KEYS).ok
    db = sqlite3.connect(source.url.removeprefix("sqlite:///"))
    # A refund committed after a higher id was already copied (sequence order ≠ commit
    # order), and an order whose updated_at is older than watermark − lookback.
    db.execute("INSERT INTO payments_refund VALUES (40, 1, 3.5, 'late', '2026-01-01 09:00:00')")
    db.commit()
    assert extract_all(source.url, warehouse, tables=["payments_refund"], options=KEYS).ok
    db.execute("INSERT INTO payments_refund VALUES (30, 1, 2.25, 'later', '2026-01-01 09:00:00')")
    old = {"id": "500", "created_at": "'2025-12-01 00:00:00'"}
    old["updated_at"] = old["created_at"]
    columns = [row[1] for row in db.execute("PRAGMA table_info(orders_order)")]
    values = ", ".join(old.get(c, c) for c in columns)
    db.execute(f"INSERT INTO orders_order SELECT {values} FROM orders_order WHERE id = 1")
    db.commit()
    db.close()
    report = extract_all(source.url, warehouse, options=KEYS)
    assert report.ok, report.errors
    assert report.results["payments_refund"].rows_backfilled == 1
    assert report.results["orders_order"].rows_backfilled == 1
    assert counts(report)["orders_order"] == (1, 0, 0, 121)
    assert report.results["payments_refund"].watermark == "40"
    assert_equal(source.url, warehouse)


def test_table_without_key_or_cursor_is_replaced_whole(tmp_path, warehouse):
    path = tmp_path / "lookup.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE lookup (code TEXT, label TEXT)")
    db.executemany("INSERT INTO lookup VALUES (?, ?)", [("a", "A"), ("b", "B"), ("b", "B")])
    db.commit()
    url = f"sqlite:///{path}"
    first = extract_all(url, warehouse, options=KEYS)
    assert first.results["lookup"].mode == "replace"
    db.execute("DELETE FROM lookup WHERE code = 'a'")
    db.execute("INSERT INTO lookup VALUES ('c', 'C')")
    db.commit()
    second = extract_all(url, warehouse, options=KEYS).results["lookup"]
    assert (second.rows_inserted, second.rows_deleted, second.row_count) == (3, 3, 3)
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute("SELECT * FROM raw.lookup ORDER BY ALL").fetchall() == [
        ("b", "B"),
        ("b", "B"),
        ("c", "C"),
    ]
    con.close()


def test_future_dated_row_does_not_hide_later_changes(source, warehouse):
    db = sqlite3.connect(source.url.removeprefix("sqlite:///"))
    db.execute(
        "UPDATE menu_meal SET name = 'Planned', updated_at = '2099-01-01 00:00:00' WHERE id = 1"
    )
    db.commit()
    first = extract_all(source.url, warehouse, options=KEYS).results["menu_meal"]
    assert dt.datetime.fromisoformat(first.watermark) <= dt.datetime.now(dt.UTC)
    real_now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    db.execute("UPDATE menu_meal SET name = 'Renamed', updated_at = ? WHERE id = 2", (real_now,))
    db.commit()
    db.close()
    second = extract_all(source.url, warehouse, options=KEYS).results["menu_meal"]
    assert (second.rows_updated, second.rows_inserted) == (1, 0)
    assert_equal(source.url, warehouse, tables=["menu_meal"])


def test_wal_mode_source_reads_read_only(tmp_path, warehouse):
    path = tmp_path / "wal.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = wal")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v NUMERIC(5,2), updated_at DATETIME)")
    db.execute("INSERT INTO t VALUES (1, 1.5, '2026-01-01 00:00:00')")
    db.commit()
    # A writer still holds the database open (as a running application would).
    db.execute("INSERT INTO t VALUES (2, 2.25, '2026-01-02 00:00:00')")
    report = extract_all(f"sqlite:///{path}", warehouse, options=KEYS)
    assert report.ok, report.errors
    assert report.results["t"].row_count == 1  # the uncommitted row is not visible
    db.commit()
    db.close()
    assert extract_all(f"sqlite:///{path}", warehouse, options=KEYS).results["t"].row_count == 2


def _ledger(path, ids) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, amount NUMERIC(12,2))")
    db.executemany("INSERT INTO ledger VALUES (?, ?)", [(i, i / 100) for i in ids])
    db.commit()
    db.close()


def _spy_on_key_reads(monkeypatch) -> list:
    """The `ranges` of every `keys` read of the SQLite sessions, in order (None: every key)."""
    from pipelines.extract.readers.sqlite import SqliteSession

    asked = []
    keys = SqliteSession.keys

    def spy(self, plan, ranges=None):
        asked.append(ranges)
        return keys(self, plan, ranges)

    monkeypatch.setattr(SqliteSession, "keys", spy)
    return asked


def test_sqlite_reconciles_by_streaming_every_key(tmp_path, warehouse, monkeypatch):
    """In SQLite a key-range search reads the table's own pages: every key is streamed
    (through the smallest covering index) into DuckDB's bucket fingerprints instead."""
    path = tmp_path / "big.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT, updated_at DATETIME)")
    db.execute("CREATE INDEX big_updated_at ON big (updated_at)")
    db.executemany(
        "INSERT INTO big VALUES (?, ?, '2026-01-01 00:00:00')",
        [(i, f"v{i}") for i in range(1, 5_001)],
    )
    db.commit()
    url = f"sqlite:///{path}"
    assert extract_all(url, warehouse, options=KEYS).ok
    db.execute("DELETE FROM big WHERE id IN (3, 3000)")
    db.commit()
    (plan,) = db.execute("EXPLAIN QUERY PLAN SELECT CAST(id AS INTEGER) FROM big").fetchall()
    assert "COVERING INDEX big_updated_at" in plan[3]
    db.close()

    asked = _spy_on_key_reads(monkeypatch)
    big = extract_all(url, warehouse, options=KEYS).results["big"]
    # Every key streamed once into DuckDB's bucket fingerprints, then two buckets' keys.
    assert (big.rows_deleted, big.row_count, asked) == (2, 4_998, [None, [(0, 64), (2944, 3008)]])
    assert big.delete_check_reason == "probe: source has 4,998 rows, raw 5,000"


def test_a_delete_in_the_middle_of_a_large_bucket_fetches_few_keys(
    tmp_path, warehouse, monkeypatch
):
    """The bucket fingerprints (PostgreSQL's path; SQLite's when told)."""
    from pipelines.extract.readers.sqlite import SqliteSession

    monkeypatch.setattr(SqliteSession, "stream_keys", False)
    path = tmp_path / "big.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT, updated_at DATETIME)")
    db.executemany(
        "INSERT INTO big VALUES (?, ?, '2026-01-01 00:00:00')",
        [(i, f"v{i}") for i in range(1, 60_001)],
    )
    db.commit()
    url = f"sqlite:///{path}"
    assert extract_all(url, warehouse, options=KEYS).ok
    db.execute("DELETE FROM big WHERE id IN (3, 30000)")
    db.commit()
    db.close()

    asked = _spy_on_key_reads(monkeypatch)
    big = extract_all(url, warehouse, options=KEYS).results["big"]
    assert (big.rows_deleted, big.rows_inserted, big.row_count) == (2, 0, 59_998)
    (ranges,) = asked
    assert sum(hi - lo for lo, hi in ranges) == 2 * 64  # two buckets, not 60,000 keys
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute(
        "SELECT row_id FROM meta._deleted_rows WHERE table_name = 'big' ORDER BY 1"
    ).fetchall() == [(3,), (30000,)]
    assert con.execute("SELECT count(*) FROM raw.big WHERE id IN (3, 30000)").fetchall() == [(0,)]
    con.close()
    asked.clear()
    quiet = extract_all(url, warehouse, options=KEYS).results["big"]
    assert (quiet.rows_deleted, quiet.rows_inserted, asked) == (0, 0, [])

    # Deletes scattered everywhere: hundreds of buckets, fetched in several queries.
    gone = list(range(100, 60_000, 150))
    db = sqlite3.connect(path)
    db.executemany("DELETE FROM big WHERE id = ?", [(i,) for i in gone])
    db.commit()
    db.close()
    scattered = extract_all(url, warehouse, options=KEYS).results["big"]
    assert (scattered.rows_deleted, scattered.row_count) == (len(gone), 59_998 - len(gone))
    assert len(asked) > 1  # more ranges than one query takes
    assert sum(hi - lo for chunk in asked for lo, hi in chunk) < 60_000
    con = duckdb.connect(warehouse, read_only=True)
    audit = con.execute("SELECT row_id FROM meta._deleted_rows WHERE table_name = 'big'").fetchall()
    con.close()
    assert sorted(r[0] for r in audit) == sorted([3, 30000, *gone])


@pytest.mark.parametrize("stream_keys", [True, False], ids=["streamed", "buckets"])
def test_delete_and_late_insert_with_the_same_count_in_one_bucket(
    tmp_path, warehouse, monkeypatch, stream_keys
):
    """Equal counts: the probe is quiet, the cadence's full reconciliation finds them."""
    from pipelines.extract.readers.sqlite import SqliteSession

    monkeypatch.setattr(SqliteSession, "stream_keys", stream_keys)
    path = tmp_path / "ledger.db"
    _ledger(path, [i for i in range(1, 10_001) if i != 7_000])
    url = f"sqlite:///{path}"
    every = ExtractOptions(delete_check_every=dt.timedelta(0), content_check_every=None)
    assert extract_all(url, warehouse, options=KEYS).ok
    probed = extract_all(url, warehouse, options=KEYS).results["ledger"]
    assert probed.delete_check_reason == "probe: quiet"
    db = sqlite3.connect(path)
    db.execute("DELETE FROM ledger WHERE id = 5000")
    db.commit()
    db.close()
    _ledger(path, [7_000])  # below the watermark: only key reconciliation sees it
    assert (
        extract_all(url, warehouse, options=KEYS).results["ledger"].delete_check_reason
        == "probe: quiet"
    )
    ledger = extract_all(url, warehouse, options=every).results["ledger"]
    assert (ledger.rows_read, ledger.rows_deleted, ledger.rows_backfilled) == (0, 1, 1)
    assert ledger.row_count == 9_999
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute(
        "SELECT min(id), count(*) FROM raw.ledger WHERE id IN (5000, 7000)"
    ).fetchall() == [(7000, 1)]
    con.close()
    # Same count and same sum (100 + 300 = 150 + 250): the squares still differ.
    db = sqlite3.connect(path)
    db.execute("DELETE FROM ledger WHERE id IN (100, 300)")
    db.execute("UPDATE ledger SET id = id + 20000 WHERE id IN (150, 250)")
    db.commit()
    db.close()
    con = duckdb.connect(warehouse)
    # raw follows the move, as an earlier run would have: only 100, 300 vs 150, 250 differ
    con.execute("DELETE FROM raw.ledger WHERE id IN (150, 250)")
    con.execute("INSERT INTO raw.ledger VALUES (20150, 1.5), (20250, 2.5)")
    con.close()
    _ledger(path, [150, 250])
    ledger = extract_all(url, warehouse, options=every).results["ledger"]
    assert (ledger.rows_deleted, ledger.rows_backfilled) == (2, 2)
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute(
        "SELECT id FROM raw.ledger WHERE id IN (100, 150, 250, 300) ORDER BY id"
    ).fetchall() == [(150,), (250,)]
    con.close()


def test_text_keys_take_the_plain_key_path(tmp_path, warehouse):
    path = tmp_path / "codes.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE codes (code TEXT PRIMARY KEY, label TEXT, updated_at DATETIME)")
    db.executemany(
        "INSERT INTO codes VALUES (?, ?, '2026-01-01 00:00:00')",
        [("a", "A"), ("b", "B"), ("c", "C")],
    )
    db.commit()
    url = f"sqlite:///{path}"
    assert extract_all(url, warehouse, options=KEYS).results["codes"].mode == "merge"
    db.execute("DELETE FROM codes WHERE code = 'b'")
    db.commit()
    db.close()
    codes = extract_all(url, warehouse, options=KEYS).results["codes"]
    assert (codes.rows_deleted, codes.row_count) == (1, 2)
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute(
        "SELECT row_id, row_key FROM meta._deleted_rows WHERE table_name = 'codes'"
    ).fetchall() == [(None, "b")]
    con.close()


def test_incremental_reads_search_the_indexes(source):
    """The reader's CASTs and type-hint row must not turn the cursor into a full scan."""

    from pipelines.extract.readers.conditions import cursor_condition, key_range_condition
    from pipelines.extract.readers.sqlite import sqlite_query

    src = Source(source.url)
    plans = {p.name: p for p in src.plans()}
    db = sqlite3.connect(source.url.removeprefix("sqlite:///"))
    since = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    cases = [
        (
            plans["orders_order"],
            cursor_condition(plans["orders_order"], since, plans["orders_order"].table),
        ),
        (
            plans["payments_refund"],
            cursor_condition(plans["payments_refund"], 7, plans["payments_refund"].table),
        ),
        (
            plans["orders_order"],
            key_range_condition(
                plans["orders_order"], [(1, 64), (128, 192)], plans["orders_order"].table
            ),
        ),
    ]
    for plan, where in cases:
        cols = [(c.name, c.kind) for c in plan.columns]
        sql, params = sqlite_query(src.engine.dialect, cols, plan.table, where)
        steps = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        assert any(s.startswith("SEARCH") for s in steps), (plan.name, steps)
        assert not any(s.startswith(f"SCAN {plan.name}") for s in steps), (plan.name, steps)
    db.close()
