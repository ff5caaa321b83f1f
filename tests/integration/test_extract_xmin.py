"""PostgreSQL's xmin cursor on a real server: changes that leave `updated_at`, late commits,
a transaction open across the read, the counter going back, a restore into a new cluster."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import duckdb
import pytest
import sqlalchemy as sa
from extract_support import TABLES, HandSource, assert_equal, counts
from pgcluster import PostgresCluster

from pipelines.extract import ExtractOptions, extract_all

pytestmark = pytest.mark.postgres

#: The xmin cursor alone: without the content reconciliation (every run by default in the
#: library), which would repair the same rows by itself (tested in test_extract_content).
XMIN = ExtractOptions(content_check_every=None)
UPDATED_AT = replace(XMIN, change_cursor="updated_at")


@pytest.fixture
def source(postgres_url) -> HandSource:
    src = HandSource(postgres_url)
    src.populate()
    yield src
    src.engine.dispose()


def _django_changes(engine: sa.Engine) -> None:
    """What Django does without bumping `updated_at`, and a row dated in the past."""
    with engine.begin() as conn:
        # queryset.update(): orders cancelled in bulk, an F() total, a payment's status
        conn.execute(sa.text("UPDATE orders_order SET status = 'cancelled' WHERE id IN (7, 9)"))
        conn.execute(sa.text("UPDATE orders_order SET total = total + 1 WHERE id = 10"))
        conn.execute(sa.text("UPDATE payments_payment SET status = 'refunded' WHERE id = 3"))
        # on_delete=SET_NULL: a user's referrer erased
        conn.execute(
            sa.text(
                "UPDATE accounts_user SET referred_by_id = NULL WHERE referred_by_id IS NOT NULL"
            )
        )
        # an insert dated 3 hours before the newest row (an application clock behind):
        # below the watermark minus the lookback
        conn.execute(
            sa.text(
                "INSERT INTO menu_meal (id, website_id, name, category, price, is_active, "
                "created_at, updated_at) SELECT 50, 1, 'Late', 'main', 12.50, true, t, t "
                "FROM (SELECT max(updated_at) - interval '3 hours' AS t FROM menu_meal) m"
            )
        )


def _referrers(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM accounts_user WHERE referred_by_id IS NOT NULL")
        ).scalar_one()


def test_changes_that_leave_updated_at_are_copied(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    first = extract_all(source.url, warehouse, options=XMIN)
    assert first.ok, first.errors
    assert all(r.xid_watermark is not None for r in first.results.values())
    nulled = _referrers(source.engine)
    assert nulled > 0
    _django_changes(source.engine)
    second = extract_all(source.url, warehouse, options=XMIN)
    assert second.ok, second.errors
    assert {n: c[:3] for n, c in counts(second).items() if c[:3] != (0, 0, 0)} == {
        "orders_order": (0, 3, 0),
        "payments_payment": (0, 1, 0),
        "accounts_user": (0, nulled, 0),
        "menu_meal": (1, 0, 0),
    }
    assert second.results["menu_meal"].rows_backfilled == 0  # the cursor saw it
    assert_equal(source.url, warehouse)
    quiet = extract_all(source.url, warehouse, options=XMIN)
    assert {n: c[:3] for n, c in counts(quiet).items()} == {t: (0, 0, 0) for t in TABLES}


def test_the_updated_at_cursor_misses_them(source, tmp_path):
    """The same changes under the old cursor: only the late-dated insert is seen (by key
    reconciliation, as the count differs); raw keeps versions the source no longer has."""
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=UPDATED_AT).ok
    _django_changes(source.engine)
    report = extract_all(source.url, warehouse, options=UPDATED_AT)
    assert report.results["orders_order"].rows_updated == 0
    assert report.results["menu_meal"].rows_backfilled == 1
    assert report.results["orders_order"].xid_watermark is None
    with pytest.raises(AssertionError, match="orders_order: missing/extra/changed"):
        assert_equal(source.url, warehouse)
    # Switching to xmin: no xid watermark yet, so each table is read whole once: repaired.
    switched = extract_all(source.url, warehouse, options=XMIN)
    orders = switched.results["orders_order"]
    assert orders.full_refresh and orders.delete_check_reason.startswith(
        "full copy: no xid watermark yet"
    )
    assert orders.rows_updated == 3
    assert_equal(source.url, warehouse)


def _insert_refund(conn, refund_id: int) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO payments_refund (id, payment_id, amount, reason, created_at) "
            "VALUES (:i, 1, 1.10, 'late', now() - interval '1 day')"
        ),
        {"i": refund_id},
    )


def _insert_order(conn, source: HandSource, order_id: int) -> None:
    row = source.order_row(0) | {"id": order_id}
    conn.execute(sa.table("orders_order", *[sa.column(c) for c in row]).insert(), [row])


def test_transaction_open_across_the_read_is_copied_next_run(source, tmp_path):
    """Begun before the read's snapshot, committed after it: the watermark is the
    snapshot's xmin, so its rows (a ledger id below one already copied, an order dated
    before the read) are in the next run's range. No key reconciliation needed."""
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=XMIN).ok
    late = source.engine.connect()
    try:
        tx = late.begin()
        _insert_refund(late, 200)  # the xid is taken here, before the read
        _insert_order(late, source, 900)
        with source.engine.begin() as conn:  # a higher id commits first
            _insert_refund(conn, 201)
        during = extract_all(source.url, warehouse, options=XMIN)
        tx.commit()
    finally:
        late.close()
    refund = during.results["payments_refund"]
    assert (refund.rows_inserted, refund.row_count) == (1, 13)
    after = extract_all(source.url, warehouse, options=replace(XMIN, delete_probe=False))
    refund, orders = after.results["payments_refund"], after.results["orders_order"]
    assert (refund.rows_inserted, refund.rows_backfilled, refund.row_count) == (1, 0, 14)
    assert (orders.rows_inserted, orders.rows_backfilled, orders.row_count) == (1, 0, 121)
    assert not refund.delete_checked and not orders.delete_checked
    assert refund.xid_watermark > during.results["payments_refund"].xid_watermark
    assert_equal(source.url, warehouse)


def _sync_state(warehouse: str, sql: str) -> None:
    con = duckdb.connect(warehouse)
    con.execute(sql)
    con.close()


def test_counter_going_back_reads_the_whole_table(source, tmp_path, caplog):
    """A stored watermark above the server's counter (a restore, a failover to a lagging
    replica) makes every range meaningless: the whole table is read, deletes recorded."""
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=XMIN).ok
    _sync_state(
        warehouse,
        "UPDATE meta._sync_state SET xid_watermark = xid_watermark + 1000000, "
        "xid_horizon = xid_horizon + 1000000",
    )
    source.change()  # inserts, updates and deletes
    report = extract_all(source.url, warehouse, options=XMIN)
    orders = report.results["orders_order"]
    assert orders.full_refresh
    assert "transaction counter went back" in orders.delete_check_reason
    assert (orders.rows_inserted, orders.rows_updated, orders.rows_deleted) == (10, 4, 2)
    assert "re-read whole" in caplog.text
    assert_equal(source.url, warehouse)
    quiet = extract_all(source.url, warehouse, options=XMIN).results["orders_order"]
    assert (quiet.full_refresh, quiet.rows_inserted, quiet.rows_updated) == (False, 0, 0)


def test_state_of_an_older_warehouse_upgrades_in_place(source, tmp_path):
    """A warehouse made before the xid columns: they are added, and each table is read
    whole once."""
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=UPDATED_AT).ok
    _sync_state(
        warehouse,
        "ALTER TABLE meta._sync_state DROP COLUMN xid_watermark; "
        "ALTER TABLE meta._sync_state DROP COLUMN xid_horizon; "
        "ALTER TABLE meta._sync_state DROP COLUMN xid_origin",
    )
    report = extract_all(source.url, warehouse, options=XMIN)
    assert all(
        r.full_refresh and "no xid watermark yet" in r.delete_check_reason
        for r in report.results.values()
    )
    again = extract_all(source.url, warehouse, options=XMIN)
    assert not any(r.full_refresh for r in again.results.values())


# -- a restore into a new cluster ------------------------------------------------------------


def _pg(cluster: PostgresCluster, tool: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(cluster.bin / tool), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
         *args],
        check=True, capture_output=True, timeout=120, **kw,
    )  # fmt: skip


def _reader_url(cluster: PostgresCluster, revoke_control: bool) -> str:
    """A role with SELECT on the tables only (pg_stat_user_tables is everyone's); the
    control functions revoked from it if asked (then the xid counter alone tells)."""
    admin = sa.create_engine(cluster.url("shop"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE ROLE reader LOGIN"))
        conn.execute(sa.text("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader"))
        if revoke_control:
            for fn in ("pg_control_system()", "pg_control_checkpoint()"):
                conn.execute(sa.text(f"REVOKE EXECUTE ON FUNCTION {fn} FROM PUBLIC"))
    admin.dispose()
    return cluster.url("shop").replace("postgres@", "reader@")


@pytest.mark.parametrize(
    ("revoke_control", "reason"),
    [
        (False, "the source is another cluster or timeline"),
        (True, "the source's transaction counter went back"),
    ],
)
def test_restore_into_a_fresh_cluster_reads_every_table_whole(tmp_path, revoke_control, reason):
    """pg_dump, then the server replaced by a fresh cluster on the same port with the dump
    restored and the rows changed since: every table is read whole (its xids restarted),
    with the reason; raw equals the restored source. The reader has least privilege."""
    warehouse = str(tmp_path / "w.duckdb")
    dump = tmp_path / "shop.dump"
    with PostgresCluster() as old:
        _pg(old, "createdb", "shop")
        src = HandSource(old.url("shop"))
        src.populate()
        with src.engine.connect() as conn:  # the counter well past the new cluster's
            for _ in range(1000):
                conn.execute(sa.text("SELECT txid_current()"))
                conn.commit()
        _pg(old, "pg_dump", "-Fc", "-d", "shop", "-f", str(dump))
        src.change()  # lost by the restore: raw must go back to the dump
        url = _reader_url(old, revoke_control)
        first = extract_all(url, warehouse, options=XMIN)
        assert first.ok, first.errors
        src.engine.dispose()
        port = old.port
    new = PostgresCluster()
    new.port = port
    with new:
        _pg(new, "createdb", "shop")
        _pg(new, "pg_restore", "-d", "shop", str(dump))
        url = _reader_url(new, revoke_control)
        report = extract_all(url, warehouse, options=XMIN)
        assert report.ok, report.errors
        for result in report.results.values():
            assert result.full_refresh, result.table
            assert reason in result.delete_check_reason, result.delete_check_reason
        assert report.results["orders_order"].rows_deleted == 10  # change()'s inserts
        assert_equal(new.url("shop"), warehouse)
        quiet = extract_all(url, warehouse, options=XMIN)
        assert not any(r.full_refresh for r in quiet.results.values())


# -- the setting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "has_xid"), [(None, True), ("updated_at", False)])
def test_setting_reaches_the_raw_asset(source, tmp_path, monkeypatch, value, has_xid):
    """MEALYTICS_PG_CHANGE_CURSOR → Settings → the source resource → the run's options."""
    from pipelines.defs.raw import build_raw_defs
    from pipelines.defs.resources import default_resources
    from pipelines.settings import Settings

    warehouse = tmp_path / "w.duckdb"
    env = {"MEALYTICS_SOURCE_URL": source.url, "MEALYTICS_WAREHOUSE": str(warehouse)}
    if value:
        env["MEALYTICS_PG_CHANGE_CURSOR"] = value
    monkeypatch.setenv("MEALYTICS_SOURCE_URL", source.url)  # the resource's EnvVar
    resources = default_resources(Settings.from_env(env))
    defs = build_raw_defs(resources=resources)
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process()
    assert result.success
    metadata = [
        e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    ]
    assert all(("xid_watermark" in md) == has_xid for md in metadata)
    con = duckdb.connect(str(warehouse), read_only=True)
    marks = con.execute("SELECT count(xid_watermark), count(*) FROM meta._sync_state").fetchall()
    con.close()
    ((with_xid, tables),) = marks
    assert with_xid == (tables if has_xid else 0) and tables == len(TABLES)


# -- the counter wrapping around 2^32 ------------------------------------------------------------


def test_the_xid_counter_wrapping_around_2_32(tmp_path):
    """A server whose counter passes 2^32 between two runs (pg_resetwal put it just
    below): the 32-bit range wraps (`xmin >= low OR xmin < high`); every change is copied
    incrementally, nothing read whole."""
    warehouse = str(tmp_path / "w.duckdb")
    with PostgresCluster() as cluster:
        cluster.set_next_xid(2**32 - 400)
        _pg(cluster, "createdb", "shop")
        src = HandSource(cluster.url("shop"))
        src.populate()
        first = extract_all(src.url, warehouse, options=XMIN)
        assert first.ok, first.errors
        watermark = first.results["orders_order"].xid_watermark
        assert 2**32 - 400 < watermark < 2**32
        with src.engine.connect() as conn:  # past 2^32: xids 3, 4, … of epoch 1
            for _ in range(400):
                conn.execute(sa.text("SELECT pg_current_xact_id()"))
                conn.commit()
        _django_changes(src.engine)
        late = sa.text("SELECT xmin::text::bigint FROM menu_meal WHERE id = 50")
        with src.engine.connect() as conn:
            assert conn.execute(late).scalar_one() < 1_000  # written after the wrap
        second = extract_all(src.url, warehouse, options=XMIN)
        assert second.ok, second.errors
        assert not any(r.full_refresh for r in second.results.values())
        assert second.results["orders_order"].xid_watermark > 2**32
        assert {n: c[:2] for n, c in counts(second).items() if c[:2] != (0, 0)} == {
            "orders_order": (0, 3),
            "payments_payment": (0, 1),
            "accounts_user": (0, second.results["accounts_user"].rows_updated),
            "menu_meal": (1, 0),
        }
        assert second.results["accounts_user"].rows_updated > 0
        # Only the changed rows were read: the rows of epoch 0 below the watermark are not.
        assert second.results["orders_order"].rows_read == 3
        assert_equal(src.url, warehouse)
        src.engine.dispose()


# -- keys that are not one integer ---------------------------------------------------------------


def test_text_and_composite_keys_without_a_cursor_are_read_incrementally(postgres_url, tmp_path):
    """Tables with a primary key but no `updated_at` and no integer key were copied whole
    every run; by xmin they are read like any other: only what changed, merged by key."""
    warehouse = str(tmp_path / "w.duckdb")
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE codes (code text PRIMARY KEY, label text)"))
        conn.execute(
            sa.text("CREATE TABLE pairs (a integer, b text, n integer, PRIMARY KEY (a, b))")
        )
        conn.execute(
            sa.text("INSERT INTO codes SELECT 'c' || i, 'x' FROM generate_series(1, 50) AS i")
        )
        conn.execute(sa.text("INSERT INTO pairs SELECT i, 'k', 0 FROM generate_series(1, 50) i"))
    tables = ["codes", "pairs"]
    first = extract_all(postgres_url, warehouse, tables=tables, options=XMIN)
    assert all(r.full_refresh for r in first.results.values())
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE codes SET label = 'y' WHERE code = 'c7'"))
        conn.execute(sa.text("INSERT INTO codes VALUES ('c99', 'z')"))
        conn.execute(sa.text("UPDATE pairs SET n = 5 WHERE a = 3"))
        conn.execute(sa.text("DELETE FROM pairs WHERE a = 4"))
    engine.dispose()
    second = extract_all(postgres_url, warehouse, tables=tables, options=XMIN).results
    codes, pairs = second["codes"], second["pairs"]
    assert (codes.full_refresh, codes.rows_read, codes.rows_inserted, codes.rows_updated) == (
        False, 2, 1, 1,
    )  # fmt: skip
    assert (pairs.full_refresh, pairs.rows_read, pairs.rows_updated, pairs.rows_deleted) == (
        False, 1, 1, 1,
    )  # fmt: skip
    con = duckdb.connect(warehouse, read_only=True)
    assert con.execute("SELECT label FROM raw.codes WHERE code = 'c7'").fetchall() == [("y",)]
    assert con.execute("SELECT count(*), sum(n) FROM raw.pairs").fetchall() == [(49, 5)]
    con.close()
