"""`seeds.generate` on SQLite: deterministic, healthy, realistic, and careful with targets."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

import seeds
from models import TABLES
from seeds.db import read_state
from seeds.invariants import check_invariants

START = dt.date(2026, 1, 5)
SMALL = {"customers": 300, "days": 30, "seed": 11, "start": START, "progress": False}


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def table_hashes(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: hashlib.sha256(
                    repr(conn.execute(sa.select(t).order_by(t.c.id)).all()).encode()
                ).hexdigest()
                for t in TABLES
            }
    finally:
        engine.dispose()


def scalar(url: str, sql: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("gen") / "source.db"
    summary = seeds.generate(url_of(path), **SMALL)
    assert summary.rows["accounts_user"] == 300
    return url_of(path)


def test_same_seed_and_start_give_identical_tables(small, tmp_path):
    again = url_of(tmp_path / "again.db")
    seeds.generate(again, **SMALL)
    assert table_hashes(again) == table_hashes(small)


def test_another_seed_gives_another_source(small, tmp_path):
    other = url_of(tmp_path / "other.db")
    seeds.generate(other, **{**SMALL, "seed": 12})
    mine, theirs = table_hashes(small), table_hashes(other)
    assert mine["orders_order"] != theirs["orders_order"]
    assert mine["accounts_user"] != theirs["accounts_user"]


def test_the_generated_source_keeps_every_invariant(small):
    assert check_invariants(small) == []


def test_every_table_has_rows(small):
    counts = {t.name: scalar(small, f"SELECT COUNT(*) FROM {t.name}") for t in TABLES}
    assert all(counts.values()), {k: v for k, v in counts.items() if not v}


def test_summary_counts_match_the_tables(small, tmp_path):
    url = url_of(tmp_path / "counted.db")
    summary = seeds.generate(url, **SMALL)
    for table in TABLES:
        assert summary.rows.get(table.name, 0) == scalar(url, f"SELECT COUNT(*) FROM {table.name}")


def test_two_websites_in_their_own_currencies_and_zones(small):
    assert scalar(small, "SELECT group_concat(currency || '/' || timezone, ',') FROM "
                         "(SELECT * FROM accounts_website ORDER BY id)") == (
        "UGX/Africa/Kampala,NGN/Africa/Lagos")
    for website in (1, 2):
        assert scalar(small, f"SELECT COUNT(*) FROM orders_order WHERE website_id = {website}") > 20
    # Lagos prices carry kobo; Kampala's are whole shillings.
    assert scalar(small, "SELECT COUNT(*) FROM orders_order WHERE website_id = 2 AND "
                         "CAST(ROUND(total * 100) AS INTEGER) % 100 <> 0") > 0
    assert scalar(small, "SELECT COUNT(*) FROM orders_order WHERE website_id = 1 AND "
                         "CAST(ROUND(total * 100) AS INTEGER) % 100 <> 0") == 0


def test_orders_peak_at_lunch_and_dinner_local_time(small):
    engine = sa.create_engine(small)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT CAST(strftime('%H', o.created_at, CASE o.website_id WHEN 1 THEN "
            "'+3 hours' ELSE '+1 hours' END) AS INTEGER) AS hour, COUNT(*) FROM orders_order o "
            "GROUP BY hour")).all()
    engine.dispose()
    by_hour = dict(rows)
    total = sum(by_hour.values())
    peaks = sum(by_hour.get(h, 0) for h in (11, 12, 13, 17, 18, 19, 20))
    assert peaks / total > 0.7
    assert sum(by_hour.get(h, 0) for h in range(0, 6)) == 0


def test_order_lifecycles_and_payments_are_realistic(small):
    statuses = dict(sa.create_engine(small).connect().execute(sa.text(
        "SELECT status, COUNT(*) FROM orders_order GROUP BY status")).all())
    assert statuses["delivered"] > 0.8 * sum(statuses.values())
    assert statuses["cancelled"] > 0
    # Cancelled orders say when; delivered ones too; others neither.
    assert scalar(small, "SELECT COUNT(*) FROM orders_order WHERE (status = 'cancelled') <> "
                         "(cancelled_at IS NOT NULL)") == 0
    assert scalar(small, "SELECT COUNT(*) FROM orders_order WHERE (status = 'delivered') <> "
                         "(delivered_at IS NOT NULL)") == 0
    # A failed attempt is followed by a successful retry for the same order.
    assert scalar(small, "SELECT COUNT(*) FROM payments_payment f JOIN payments_payment r "
                         "ON r.order_id = f.order_id AND r.id > f.id WHERE f.status = 'failed' "
                         "AND r.status IN ('completed', 'refunded')") > 0
    # Refunds come on a later (UTC) day than the money was taken.
    later = scalar(small, "SELECT COUNT(*) FROM payments_refund r JOIN payments_payment p ON "
                          "p.id = r.payment_id WHERE date(r.created_at) > date(p.completed_at)")
    assert later == scalar(small, "SELECT COUNT(*) FROM payments_refund") > 0
    # Dispatched orders have a delivery; delivery takes 18-120 minutes.
    assert scalar(small, "SELECT COUNT(*) FROM orders_order o WHERE o.status = 'delivered' AND "
                         "NOT EXISTS (SELECT 1 FROM delivery_delivery d WHERE "
                         "d.order_id = o.id)") == 0
    minutes = sa.create_engine(small).connect().execute(sa.text(
        "SELECT MIN(m), MAX(m) FROM (SELECT (julianday(delivered_at) - julianday(created_at)) "
        "* 1440 AS m FROM orders_order WHERE status = 'delivered')")).one()
    assert 18 <= minutes[0] and minutes[1] <= 120
    # Every purpose of payment occurs.
    purposes = scalar(small, "SELECT COUNT(DISTINCT purpose) FROM payments_payment")
    assert purposes == 5


def test_loyalty_ledger_has_every_kind_of_entry(small):
    engine = sa.create_engine(small)
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.text(
            "SELECT transaction_type, COUNT(*) FROM loyalty_loyaltytransaction GROUP BY 1")).all())
        earned = conn.execute(sa.text(
            "SELECT o.website_id, o.subtotal, t.points FROM loyalty_loyaltytransaction t "
            "JOIN orders_order o ON o.id = t.order_id WHERE t.transaction_type = 'earn' "
            "ORDER BY t.id LIMIT 50")).all()
    engine.dispose()
    assert {"earn", "bonus", "redeem"} <= set(kinds)
    for website, subtotal, points in earned:  # 1 point per 500 UGX / per 100 NGN of subtotal
        per = 500 if website == 1 else 100
        assert points == int(Decimal(str(subtotal)) // per)


def test_discount_types_all_occur_and_totals_add_up(small):
    kinds = {r for (r,) in sa.create_engine(small).connect().execute(sa.text(
        "SELECT DISTINCT discount_type FROM orders_order WHERE discount_type IS NOT NULL"))}
    assert kinds == {"vip", "referral", "campaign", "loyalty", "subscription"}
    # Campaign orders fall inside their campaign's window.
    assert scalar(small, "SELECT COUNT(*) FROM orders_order o JOIN campaigns_campaign c ON "
                         "c.id = o.campaign_id WHERE o.created_at < c.start_date OR "
                         "o.created_at > c.end_date") == 0


def test_state_table_records_the_run(small):
    engine = sa.create_engine(small)
    with engine.connect() as conn:
        state = read_state(conn)
    engine.dispose()
    assert state["seed"] == 11 and state["start"] == "2026-01-05" and state["customers"] == 300
    through = dt.datetime.fromtimestamp(state["through"] / 1e6, dt.UTC)
    assert through == dt.datetime(2026, 2, 3, 21, 0, tzinfo=dt.UTC)


def test_a_non_empty_target_is_refused_and_left_alone(small, tmp_path):
    path = tmp_path / "copy.db"
    shutil.copy2(sa.make_url(small).database, path)
    before = path.read_bytes()
    with pytest.raises(seeds.SourceError, match="--force"):
        seeds.generate(url_of(path), **{**SMALL, "seed": 99})
    assert path.read_bytes() == before


def test_force_replaces_the_tables(small, tmp_path):
    path = tmp_path / "forced.db"
    shutil.copy2(sa.make_url(small).database, path)
    seeds.generate(url_of(path), **{**SMALL, "customers": 120}, force=True)
    assert scalar(url_of(path), "SELECT COUNT(*) FROM accounts_user") == 120
    assert check_invariants(url_of(path)) == []


@pytest.mark.parametrize("bad", [{"customers": 0}, {"days": -1}, {"seed": -3}])
def test_bad_arguments_change_nothing(tmp_path, bad):
    path = tmp_path / "never.db"
    with pytest.raises(seeds.SourceError):
        seeds.generate(url_of(path), **{**SMALL, **bad})
    assert not path.exists()


def test_an_unreachable_server_is_named_with_its_password_masked():
    url = "postgresql+psycopg://me:s3cret@127.0.0.1:1/x"
    with pytest.raises(seeds.SourceError) as info:
        seeds.generate(url, **SMALL)
    message = str(info.value)
    assert "127.0.0.1" in message and "s3cret" not in message and "\n" not in message


def test_exists_tells_an_empty_target_from_a_generated_one(small, tmp_path):
    assert seeds.exists(small)
    missing = tmp_path / "missing.db"
    assert not seeds.exists(url_of(missing))
    assert not missing.exists()


def test_sqlite_stores_values_as_django_does(small):
    """Timestamps as UTC ISO text without offset, booleans 0/1, NUMERIC as numbers."""
    conn = sqlite3.connect(sa.make_url(small).database)
    try:
        row = conn.execute(
            "SELECT typeof(date_joined), date_joined, typeof(is_active), is_active "
            "FROM accounts_user ORDER BY id LIMIT 1").fetchone()
        money = conn.execute("SELECT DISTINCT typeof(total) FROM orders_order").fetchall()
        day = conn.execute("SELECT event_date FROM catering_booking LIMIT 1").fetchone()
    finally:
        conn.close()
    assert row[0] == "text" and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", row[1])
    assert row[2] == "integer" and row[3] in (0, 1)
    assert {t for (t,) in money} <= {"integer", "real"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", day[0])


def test_a_start_given_as_text_is_the_same_start(small, tmp_path):
    url = url_of(tmp_path / "text.db")
    seeds.generate(url, **{**SMALL, "start": "2026-01-05"})
    assert table_hashes(url)["orders_order"] == table_hashes(small)["orders_order"]
    with pytest.raises(seeds.SourceError, match="start"):
        seeds.generate(url_of(tmp_path / "bad.db"), **{**SMALL, "start": "2026-13-01"})


#: Timestamps that may lie ahead of the snapshot: appointments, periods, terms, schedules.
PLANNED = {("nutrition_consultation", "scheduled_at"), ("vip_viptier", "expires_at"),
           ("subscriptions_subscription", "current_period_end"),
           ("campaigns_campaign", "start_date"), ("campaigns_campaign", "end_date")}


def rows_after_now(url: str) -> dict[tuple[str, str], int]:
    """Rows with a timestamp later than the simulated now (`through`), by column."""
    engine = sa.create_engine(url)
    found = {}
    try:
        with engine.connect() as conn:
            now = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=read_state(conn)["through"])
            for table in TABLES:
                for column in table.columns:
                    if isinstance(column.type, sa.DateTime) and (
                            table.name, column.name) not in PLANNED:
                        n = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                            column > now.strftime("%Y-%m-%d %H:%M:%S.%f"))).scalar_one()
                        if n:
                            found[(table.name, column.name)] = n
    finally:
        engine.dispose()
    return found


def test_no_row_comes_from_the_future(small, tmp_path):
    """created_at, updated_at and every event time are at most the snapshot's now, as in a
    real database (an updated_at ahead of now would hide later changes from a cursor)."""
    assert rows_after_now(small) == {}
    path = tmp_path / "advanced.db"
    shutil.copy2(sa.make_url(small).database, path)
    seeds.advance(url_of(path), days=3, progress=False)
    assert rows_after_now(url_of(path)) == {}
