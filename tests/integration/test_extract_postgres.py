"""Extraction from a real PostgreSQL source (started on loopback) into DuckDB."""

from __future__ import annotations

import functools
import socket
from dataclasses import replace

import duckdb
import pytest
import sqlalchemy as sa
from extract_support import COUNTS_AFTER_CHANGE, TABLES, HandSource, assert_equal, counts

from pipelines.extract import (
    ExtractOptions,
    SchemaDriftError,
    Source,
    SourceUnavailableError,
    extract_all,
)

pytestmark = pytest.mark.postgres

#: The key reconciliation alone, without the content reconciliation that would otherwise
#: find the same rows first (tested in test_extract_content).
KEYS = ExtractOptions(content_check_every=None)
#: The `updated_at` cursor (the path of PostgreSQL < 13 and of SQLite), for the tests of
#: what it cannot see; the default xmin cursor sees those rows (test_extract_xmin.py).
UPDATED_AT = replace(KEYS, change_cursor="updated_at")


@pytest.fixture
def source(postgres_url) -> HandSource:
    src = HandSource(postgres_url)
    src.populate()
    yield src
    src.engine.dispose()


@pytest.mark.parametrize("reader", ["adbc", "sqlalchemy"])
def test_copy_change_copy_equal_and_quiet_rerun(source, tmp_path, reader):
    warehouse = str(tmp_path / "w.duckdb")
    src = Source(source.url, reader=reader, batch_rows=16)
    first = extract_all(src, warehouse)
    assert first.ok, first.errors
    assert counts(first)["orders_order"] == (120, 0, 0, 120)
    assert_equal(source.url, warehouse)
    con = duckdb.connect(warehouse, read_only=True)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'orders_order'"
        ).fetchall()
    )
    con.close()
    assert (types["total"], types["created_at"], types["loyalty_points_used"]) == (
        "DECIMAL(12,2)",
        "TIMESTAMP WITH TIME ZONE",
        "INTEGER",
    )

    source.change()
    second = extract_all(src, warehouse)
    assert second.ok, second.errors
    assert counts(second) == COUNTS_AFTER_CHANGE
    assert_equal(source.url, warehouse)
    third = extract_all(src, warehouse)
    assert {n: c[:3] for n, c in counts(third).items()} == {t: (0, 0, 0) for t in TABLES}


def test_crash_then_rerun_converges(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse).ok
    source.change()

    def explode(batch):
        raise RuntimeError("killed mid-table")

    report = extract_all(
        Source(source.url, batch_rows=4),
        warehouse,
        options=ExtractOptions(on_batch=explode),
        tables=["orders_order"],
    )
    assert str(report.errors["orders_order"]) == "killed mid-table"
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute("SELECT count(*) FROM raw.orders_order").fetchall() == [(120,)]
    con.close()
    rerun = extract_all(source.url, warehouse)
    assert counts(rerun)["orders_order"] == (10, 4, 2, 128)
    assert_equal(source.url, warehouse)


def test_extraction_session_is_read_only(source):
    for reader in ("adbc", "sqlalchemy"):
        with Source(source.url, reader=reader).session() as session:
            with pytest.raises(Exception, match="read-only transaction"):
                session.execute("DELETE FROM orders_order")
    with source.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM orders_order")).scalar() == 120


def test_unreachable_postgres_changes_nothing(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens
    url = f"postgresql+psycopg://alice:s3cret@127.0.0.1:{port}/shop"
    with pytest.raises(SourceUnavailableError) as info:
        extract_all(url, str(tmp_path / "w.duckdb"))
    assert "s3cret" not in str(info.value)
    assert f"127.0.0.1:{port}/shop" in str(info.value)
    assert not (tmp_path / "w.duckdb").exists()


def test_incompatible_type_change_names_table_column_types(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse).ok
    with source.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE menu_meal ALTER COLUMN price TYPE text"))
        conn.execute(sa.text("ALTER TABLE orders_order ADD COLUMN tip numeric(8,2)"))
        conn.execute(sa.text("UPDATE orders_order SET tip = 1.25, updated_at = now()"))
    report = extract_all(source.url, warehouse)
    err = report.errors["menu_meal"]
    assert isinstance(err, SchemaDriftError)
    assert all(p in str(err) for p in ("menu_meal", "price", "DECIMAL(12,2)", "TEXT"))
    assert report.results["orders_order"].columns_added == ("tip",)
    assert report.results["orders_order"].rows_updated == 120
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute("SELECT DISTINCT CAST(tip AS VARCHAR) FROM raw.orders_order").fetchall() == [
        ("1.25",)
    ]
    con.close()


@pytest.mark.parametrize(("options", "read", "backfilled"), [(UPDATED_AT, 0, 1), (KEYS, 1, 0)])
def test_rows_the_cursor_cannot_see_are_backfilled_by_key(
    source, tmp_path, options, read, backfilled
):
    warehouse = str(tmp_path / "w.duckdb")
    insert = sa.text(
        "INSERT INTO payments_refund (id, payment_id, amount, reason, created_at) "
        "VALUES (:i, 1, 1.10, 'gap', now())"
    )
    with source.engine.begin() as conn:
        conn.execute(insert, {"i": 100})
    assert extract_all(source.url, warehouse, options=options).ok
    with source.engine.begin() as conn:  # a lower id committing after a higher one
        conn.execute(insert, {"i": 50})
    report = extract_all(source.url, warehouse, options=options)
    refund = report.results["payments_refund"]
    # The xmin cursor reads the late ledger row itself: nothing left to backfill.
    assert (refund.rows_read, refund.rows_backfilled, refund.row_count) == (read, backfilled, 14)
    assert refund.watermark == "100"
    assert_equal(source.url, warehouse)


def test_bucket_reconciliation_finds_deletes_and_late_rows(postgres_url, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE big (id integer PRIMARY KEY, updated_at timestamptz)"))
        conn.execute(sa.text("INSERT INTO big SELECT i, now() FROM generate_series(1, 60000) AS i"))
    assert extract_all(postgres_url, warehouse, tables=["big"], options=UPDATED_AT).ok
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM big WHERE id IN (3, 30000)"))
        # committed late: its updated_at is far below watermark − lookback
        conn.execute(sa.text("INSERT INTO big VALUES (70000, '2000-01-01 00:00:00+00')"))
    engine.dispose()
    big = extract_all(postgres_url, warehouse, tables=["big"], options=UPDATED_AT)
    big = big.results["big"]
    assert (big.rows_deleted, big.rows_backfilled, big.row_count) == (2, 1, 59_999)
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute("SELECT count(*), sum(id) FROM raw.big").fetchall() == [
        (59_999, 60000 * 60001 // 2 - 30003 + 70000)
    ]
    con.close()
    quiet = extract_all(postgres_url, warehouse, tables=["big"], options=UPDATED_AT)
    quiet = quiet.results["big"]
    assert (quiet.rows_deleted, quiet.rows_backfilled, quiet.rows_inserted) == (0, 0, 0)


def test_delete_counter_catches_a_delete_masked_by_a_late_row(postgres_url, tmp_path):
    """One delete and one row committed too late for the `updated_at` cursor leave the
    count equal: PostgreSQL's delete counter (`n_tup_del`) still moves, and the probe
    reconciles. (The xmin cursor reads the late row, so its counts differ anyway.)"""
    import time

    warehouse = str(tmp_path / "w.duckdb")
    extract = functools.partial(extract_all, tables=["masked"], options=UPDATED_AT)
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE masked (id integer PRIMARY KEY, updated_at timestamptz)")
        )
        conn.execute(sa.text("INSERT INTO masked SELECT i, now() FROM generate_series(1, 500) i"))
    first = extract(postgres_url, warehouse).results["masked"]
    assert first.delete_check_reason == "full copy"
    quiet = extract(postgres_url, warehouse).results["masked"]
    assert quiet.delete_check_reason == "probe: quiet"
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM masked WHERE id = 250"))
        conn.execute(sa.text("INSERT INTO masked VALUES (900, '2000-01-01 00:00:00+00')"))
    engine.dispose()  # the backend's statistics are flushed as it ends
    # The counter reaches pg_stat_user_tables within seconds of the commit.
    stats = sa.create_engine(postgres_url)
    for _ in range(100):
        with stats.connect() as conn:
            deleted = conn.execute(
                sa.text("SELECT n_tup_del FROM pg_stat_user_tables WHERE relname = 'masked'")
            ).scalar()
        if deleted:
            break
        time.sleep(0.2)
    stats.dispose()
    assert deleted == 1
    masked = extract(postgres_url, warehouse).results["masked"]
    assert masked.delete_check_reason == "probe: delete counter moved"
    assert (masked.rows_deleted, masked.rows_backfilled, masked.row_count) == (1, 1, 500)
    again = extract(postgres_url, warehouse).results["masked"]
    assert again.delete_check_reason == "probe: quiet"
