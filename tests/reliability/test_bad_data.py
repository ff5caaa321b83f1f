"""Bad source data is caught by a raw asset check naming table, key and rule, never dropped.

Each case damages a copy of a small generated source (SQLite; a few on PostgreSQL too),
extracts it, and asserts that (a) the damaged row is in raw exactly as the source has it,
and (b) `find_violations` (the rule code behind the `raw_quality` asset checks) names the
table, the row's key and the rule. One test runs the real Dagster checks and reads the
offending rows from their metadata.
"""

from __future__ import annotations

import sqlite3

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
from extract_support import assert_equal

import seeds
from models import TABLES
from pipelines.defs.raw import build_raw_defs
from pipelines.defs.raw.quality import CHECKS, find_violations
from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.extract import extract_all

ALL = [t.name for t in TABLES]


def _first(db: sqlite3.Connection, table: str, where: str = "1=1") -> int:
    return db.execute(f"SELECT min(id) FROM {table} WHERE {where}").fetchone()[0]


def _drop_not_null(db: sqlite3.Connection, table: str, column: str, decl: str) -> None:
    """Make a NOT NULL column nullable in place (a source created without the constraint)."""
    db.execute("PRAGMA writable_schema = ON")
    db.execute(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE name = ?",
        (f"{column} {decl} NOT NULL", f"{column} {decl}", table),
    )
    db.execute("PRAGMA writable_schema = OFF")


# Each case: (name, damage(db) -> (table, key), expected rule). Keys are looked up in the
# source, so they hold for any seed.
def _negative_total(db):
    k = _first(db, "orders_order")
    db.execute("UPDATE orders_order SET total = -5 WHERE id = ?", (k,))
    return "orders_order", k


def _null_total(db):
    db.commit()
    _drop_not_null(db, "orders_order", "total", "NUMERIC(12, 2)")
    db.commit()
    k = _first(db, "orders_order")
    fresh = sqlite3.connect(db.execute("PRAGMA database_list").fetchone()[2])  # new schema
    fresh.execute("UPDATE orders_order SET total = NULL WHERE id = ?", (k,))
    fresh.commit()
    fresh.close()
    return "orders_order", k


def _total_formula(db):
    k = _first(db, "orders_order", "discount_amount > 0")
    db.execute("UPDATE orders_order SET total = total + 1000 WHERE id = ?", (k,))
    return "orders_order", k


def _payment_method(db):
    k = _first(db, "orders_order")
    db.execute("UPDATE orders_order SET payment_method = 'bitcoin' WHERE id = ?", (k,))
    return "orders_order", k


def _status(db):
    k = _first(db, "payments_payment")
    db.execute("UPDATE payments_payment SET status = 'teleported' WHERE id = ?", (k,))
    return "payments_payment", k


def _orphan(db):
    k = _first(db, "orders_order")
    db.execute("UPDATE orders_order SET user_id = 987654 WHERE id = ?", (k,))
    return "orders_order", k


def _future(db):
    """A few hours ahead: a skewed clock, worth a warning (future_timestamp, WARN)."""
    k = _first(db, "support_ticket")
    db.execute(
        "UPDATE support_ticket SET created_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+3 hours') "
        "WHERE id = ?",
        (k,),
    )
    return "support_ticket", k


def _far_future(db):
    """More than a day ahead: no clock is that wrong (after_tomorrow, ERROR)."""
    k = _first(db, "support_ticket")
    db.execute(
        "UPDATE support_ticket SET created_at = '2099-01-01 00:00:00.000000' WHERE id = ?", (k,)
    )
    return "support_ticket", k


def _delivered_far_future(db):
    k = _first(db, "orders_order", "delivered_at IS NOT NULL")
    db.execute("UPDATE orders_order SET delivered_at = '2099-01-01 00:00:00' WHERE id = ?", (k,))
    return "orders_order", k


def _order_in_1970(db):
    """An order dated 1970-01-01 (a zeroed clock): before its website existed."""
    k = _first(db, "orders_order")
    db.execute("UPDATE orders_order SET created_at = '1970-01-01 00:00:00' WHERE id = ?", (k,))
    return "orders_order", k


def _ledger_entry_before_website(db):
    """No website_id of its own: judged against the website of its account."""
    k = _first(db, "loyalty_loyaltytransaction")
    db.execute(
        "UPDATE loyalty_loyaltytransaction SET created_at = '2001-05-05 10:00:00' WHERE id = ?",
        (k,),
    )
    return "loyalty_loyaltytransaction", k


def _campaign_starting_in_1970(db):
    k = _first(db, "campaigns_campaign")
    db.execute(
        "UPDATE campaigns_campaign SET start_date = '1970-01-01 00:00:00' WHERE id = ?", (k,)
    )
    return "campaigns_campaign", k


def _negative_quantity(db):
    k = _first(db, "orders_orderitem")
    db.execute("UPDATE orders_orderitem SET quantity = -2 WHERE id = ?", (k,))
    return "orders_orderitem", k


def _negative_guests(db):
    k = _first(db, "catering_booking")
    db.execute("UPDATE catering_booking SET guests = -40 WHERE id = ?", (k,))
    return "catering_booking", k


def _negative_bonus(db):
    k = _first(db, "referrals_referral")
    db.execute("UPDATE referrals_referral SET bonus_amount = -500 WHERE id = ?", (k,))
    return "referrals_referral", k


def _negative_fee(db):
    k = _first(db, "orders_order")
    db.execute("UPDATE orders_order SET delivery_fee = -1 WHERE id = ?", (k,))
    return "orders_order", k


def _ledger(db):
    k = _first(db, "loyalty_loyaltyaccount")
    db.execute(
        "UPDATE loyalty_loyaltyaccount SET points_balance = points_balance + 7 WHERE id = ?", (k,)
    )
    return "loyalty_loyaltyaccount", k


def _redeem(db):
    k = _first(db, "loyalty_loyaltytransaction")
    db.execute(
        "UPDATE loyalty_loyaltytransaction SET transaction_type = 'redeem', redemption_id = NULL "
        "WHERE id = ?",
        (k,),
    )
    return "loyalty_loyaltytransaction", k


def _refund(db):
    k = _first(db, "payments_refund")
    payment = db.execute("SELECT payment_id FROM payments_refund WHERE id = ?", (k,)).fetchone()
    db.execute("UPDATE payments_refund SET amount = 99999999 WHERE id = ?", (k,))
    return "payments_payment", payment[0]


def _negative_refund(db):
    k = _first(db, "payments_refund")
    db.execute("UPDATE payments_refund SET amount = -1 WHERE id = ?", (k,))
    return "payments_refund", k


CASES = {
    "negative total": (_negative_total, "negative_money"),
    "NULL total": (_null_total, "null_money"),
    "total != subtotal - discount + fee": (_total_formula, "order_total"),
    "unknown payment_method": (_payment_method, "choice"),
    "unknown status": (_status, "choice"),
    "orphan foreign key": (_orphan, "orphan"),
    "future timestamp": (_future, "future_timestamp"),
    "created_at after tomorrow": (_far_future, "after_tomorrow"),
    "delivered_at after tomorrow": (_delivered_far_future, "after_tomorrow"),
    "order dated 1970-01-01": (_order_in_1970, "before_website_created"),
    "ledger entry before its website": (_ledger_entry_before_website, "before_website_created"),
    "campaign starting in 1970": (_campaign_starting_in_1970, "before_website_created"),
    "negative quantity": (_negative_quantity, "negative_quantity"),
    "negative guests": (_negative_guests, "negative_quantity"),
    "negative bonus_amount": (_negative_bonus, "negative_money"),
    "negative delivery_fee": (_negative_fee, "negative_money"),
    "ledger balance broken": (_ledger, "points_balance"),
    "redeem entry without its redemption": (_redeem, "redeem_redemption"),
    "refund larger than payment": (_refund, "refund_exceeds_payment"),
    "negative refund": (_negative_refund, "negative_money"),
}


def test_clean_source_has_no_violations(small_source_file, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(f"sqlite:///{small_source_file}", warehouse).ok
    assert find_violations(warehouse) == []


@pytest.mark.parametrize("case", list(CASES))
def test_bad_row_is_kept_and_named(case, source_copy, tmp_path):
    damage, rule = CASES[case]
    db = sqlite3.connect(source_copy)
    table, key = damage(db)
    db.commit()
    db.close()
    url = f"sqlite:///{source_copy}"
    warehouse = str(tmp_path / "w.duckdb")
    report = extract_all(url, warehouse)
    assert report.ok, report.errors
    assert_equal(url, warehouse, tables=ALL)  # nothing dropped or repaired on the way
    violations = find_violations(warehouse)
    found = {(v.table, v.key, v.rule) for v in violations}
    assert (table, key, rule) in found, sorted(found)[:10]
    if case in COLUMNS:
        # Implausible values: an ERROR check names the column too, and the value is named
        # once (a date two days ahead is not also a clock-skew warning).
        (named,) = [
            v for v in violations if (v.table, v.key, v.column) == (table, key, COLUMNS[case])
        ]
        assert (named.rule, CHECKS[named.check].severity) == (rule, ERROR)


#: The column each implausible-value case names, under an ERROR check (issue 15).
COLUMNS = {
    "created_at after tomorrow": "created_at",
    "delivered_at after tomorrow": "delivered_at",
    "order dated 1970-01-01": "created_at",
    "ledger entry before its website": "created_at",
    "campaign starting in 1970": "start_date",
    "negative quantity": "quantity",
    "negative guests": "guests",
    "negative bonus_amount": "bonus_amount",
    "negative delivery_fee": "delivery_fee",
}
ERROR = dg.AssetCheckSeverity.ERROR


def test_duplicate_primary_key_in_raw_is_named(small_source_file, tmp_path):
    """Raw has no PRIMARY KEY constraint (bulk loads): a repeated key is a check's job."""
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(f"sqlite:///{small_source_file}", warehouse).ok
    con = duckdb.connect(warehouse)
    key = con.execute("SELECT min(id) FROM raw.payments_payment").fetchone()[0]
    con.execute(
        f"INSERT INTO raw.payments_payment SELECT * FROM raw.payments_payment WHERE id = {key}"
    )
    con.close()
    found = {(v.table, v.key, v.rule) for v in find_violations(warehouse)}
    assert found == {("payments_payment", key, "duplicate_primary_key")}


def _raw(warehouse, sql, params=None):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_unparsable_timestamp_is_kept_and_named(source_copy, tmp_path, caplog):
    """Timestamp or date text that does not parse: the table loads, the row is kept with
    NULL there, the text is in meta._rejected_values, the check names table, key, column
    and rule, a warning is logged; the watermark ignores it; a fix in the source clears it.
    """
    db = sqlite3.connect(source_copy)
    ticket = _first(db, "support_ticket")
    other = db.execute("SELECT max(id) FROM support_ticket").fetchone()[0]
    booking = _first(db, "catering_booking")
    db.execute("UPDATE support_ticket SET updated_at = 'not a date' WHERE id = ?", (ticket,))
    db.execute("UPDATE support_ticket SET created_at = '2026-13-45' WHERE id = ?", (other,))
    db.execute("UPDATE catering_booking SET event_date = '2026-02-30' WHERE id = ?", (booking,))
    high = db.execute(
        "SELECT max((julianday(updated_at) - 2440587.5) * 86400) FROM support_ticket WHERE id != ?",
        (ticket,),
    ).fetchone()[0]
    db.commit()
    db.close()
    url = f"sqlite:///{source_copy}"
    warehouse = str(tmp_path / "w.duckdb")
    with caplog.at_level("WARNING", logger="pipelines.extract.rejects"):
        report = extract_all(url, warehouse)
    assert report.ok, report.errors
    assert "not a date" in caplog.text and "2026-02-30" in caplog.text

    # Every row is there: the bad values NULL, all other columns as the source has them.
    assert _raw(warehouse, "SELECT count(*) FROM raw.support_ticket") == [
        (report.results["support_ticket"].rows_read,)
    ]
    assert_equal(url, warehouse, tables=[t for t in ALL if t not in (
        "support_ticket", "catering_booking")])  # fmt: skip
    assert _raw(
        warehouse,
        "SELECT updated_at, created_at IS NULL FROM raw.support_ticket WHERE id = ?",
        [ticket],
    ) == [(None, False)]
    assert _raw(
        warehouse,
        "SELECT created_at, updated_at IS NULL FROM raw.support_ticket WHERE id = ?",
        [other],
    ) == [(None, False)]
    assert _raw(
        warehouse, "SELECT event_date FROM raw.catering_booking WHERE id = ?", [booking]
    ) == [(None,)]
    rejected = _raw(
        warehouse,
        "SELECT table_name, row_key, column_name, raw_value, rule, run_id IS NOT NULL, "
        "seen_at IS NOT NULL FROM meta._rejected_values ORDER BY ALL",
    )
    ts, date = "unparsable_timestamp", "unparsable_date"
    assert rejected == sorted([
        ("catering_booking", str(booking), "event_date", "2026-02-30", date, True, True),
        ("support_ticket", str(ticket), "updated_at", "not a date", ts, True, True),
        ("support_ticket", str(other), "created_at", "2026-13-45", ts, True, True),
    ])  # fmt: skip

    # The watermark is the highest updated_at that parses.
    (watermark,) = _raw(
        warehouse,
        "SELECT epoch(watermark_ts) FROM meta._sync_state WHERE table_name = 'support_ticket'",
    )[0]
    assert abs(watermark - high) < 0.01

    found = {(v.table, v.key, v.column, v.rule) for v in find_violations(warehouse)}
    assert {
        ("support_ticket", ticket, "updated_at", "unparsable_timestamp"),
        ("support_ticket", other, "created_at", "unparsable_timestamp"),
        ("catering_booking", booking, "event_date", "unparsable_date"),
    } <= found
    assert all(v.check == "parsable_timestamps" for v in find_violations(warehouse) if v.column)

    # A rerun changes nothing and records nothing twice.
    again = extract_all(url, warehouse)
    assert again.ok, again.errors
    assert {(r.rows_inserted, r.rows_updated, r.rows_deleted) for r in again.results.values()} == {
        (0, 0, 0)
    }
    assert _raw(warehouse, "SELECT count(*) FROM meta._rejected_values") == [(3,)]

    # Fixed in the source (as a save would: updated_at rewritten): raw follows, the check
    # no longer names the row; the record of what was seen stays.
    db = sqlite3.connect(source_copy)
    db.execute(
        "UPDATE support_ticket SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = ?",
        (ticket,),
    )
    db.commit()
    db.close()
    assert extract_all(url, warehouse, tables=["support_ticket"]).ok
    found = {(v.table, v.key, v.column) for v in find_violations(warehouse)}
    assert ("support_ticket", ticket, "updated_at") not in found
    assert ("support_ticket", other, "created_at") in found


TEXT = 'O\'Brien "Zé" 🍲🇺🇬 tab\there; drop table x; -- \\ back\nline'
NUL_TEXT = "before\x00after"


@pytest.mark.parametrize("value", [TEXT, NUL_TEXT], ids=["emoji-quotes", "nul-byte"])
def test_awkward_text_round_trips_exactly(value, source_copy, tmp_path):
    db = sqlite3.connect(source_copy)
    k = _first(db, "accounts_user")
    db.execute("UPDATE accounts_user SET first_name = ? WHERE id = ?", (value, k))
    db.commit()
    db.close()
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(f"sqlite:///{source_copy}", warehouse).ok
    con = duckdb.connect(warehouse, read_only=True)
    got = con.execute("SELECT first_name FROM raw.accounts_user WHERE id = ?", [k]).fetchone()
    con.close()
    assert got == (value,)


def test_dagster_checks_name_the_rows(source_copy, tmp_path):
    """The real asset checks: failed, severity ERROR, offending (table, key, rule) listed."""
    db = sqlite3.connect(source_copy)
    _, order = _total_formula(db)
    _, user = _orphan(db)
    ticket = _first(db, "support_ticket")
    db.execute("UPDATE support_ticket SET updated_at = 'not a date' WHERE id = ?", (ticket,))
    db.commit()
    db.close()
    url = f"sqlite:///{source_copy}"
    warehouse = str(tmp_path / "w.duckdb")
    resources = {"source": SourceDatabase(url=url), "warehouse": Warehouse(path=warehouse)}
    defs = build_raw_defs(url, resources=resources)
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    evals = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    formula = evals[("orders_order", "order_total_formula")]
    assert not formula.passed
    assert formula.severity == dg.AssetCheckSeverity.ERROR
    rows = formula.metadata["offending_keys"].value
    assert {"table": "orders_order", "key": order, "rule": "order_total"} in rows
    orphan = evals[("orders_order", "foreign_keys_resolve")]
    assert {"table": "orders_order", "key": user, "rule": "orphan"} in orphan.metadata[
        "offending_keys"
    ].value
    assert evals[("payments_payment", "refunds_within_payment")].passed
    parsable = evals[("support_ticket", "parsable_timestamps")]
    assert not parsable.passed
    assert parsable.severity == dg.AssetCheckSeverity.ERROR
    assert parsable.metadata["offending_keys"].value == [
        {"table": "support_ticket", "key": ticket, "rule": "unparsable_timestamp",
         "column": "updated_at"}
    ]  # fmt: skip
    assert result.is_node_success("raw_tables")  # the table loaded
    assert len(CHECKS) >= 10


def test_postgres_bad_rows_are_named(postgres_url, tmp_path):
    seeds.generate(postgres_url, customers=60, days=10, seed=3)
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        order = conn.exec_driver_sql("SELECT min(id) FROM orders_order").scalar()
        conn.exec_driver_sql(
            "UPDATE orders_order SET payment_method = 'barter', total = total + 1 "
            f"WHERE id = {order}"
        )
        refund = conn.exec_driver_sql("SELECT min(id) FROM payments_refund").scalar()
        payment = conn.exec_driver_sql(
            f"SELECT payment_id FROM payments_refund WHERE id = {refund}"
        ).scalar()
        conn.exec_driver_sql(f"UPDATE payments_refund SET amount = 9999999 WHERE id = {refund}")
    engine.dispose()
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(postgres_url, warehouse).ok
    found = {(v.table, v.key, v.rule) for v in find_violations(warehouse)}
    assert {
        ("orders_order", order, "choice"),
        ("orders_order", order, "order_total"),
        ("payments_payment", payment, "refund_exceeds_payment"),
    } <= found


def test_order_dated_1970_does_not_stretch_the_daily_marts(built_warehouse, tmp_path):
    """Issue 15: one order dated 1970-01-01 grew the daily snapshot from 59 rows to 20,824
    (a day per website since 1970). The calendars start at the website's opening date; the
    order stays in staging, and the raw check plausible_dates names it (above)."""
    import shutil

    from dbt_helpers import log_raw_change, run_dbt
    from reliability_support import AS_OF, BUILD

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, warehouse)
    daily = "SELECT count(*), min(business_date) FROM marts.fct_daily_snapshot"
    loyalty = "SELECT count(*) FROM marts.fct_loyalty_points_daily"
    (before,) = _raw(warehouse, daily)
    (loyalty_before,) = _raw(warehouse, loyalty)
    con = duckdb.connect(str(warehouse))
    # The latest order: moving it leaves every website's first plausible order date as it was.
    (order,) = con.execute("SELECT max(id) FROM raw.orders_order").fetchone()
    log_raw_change(con, "orders_order", [order])  # as the extraction would
    con.execute(
        "UPDATE raw.orders_order SET created_at = '1970-01-01 00:00:00+00' WHERE id = ?", [order]
    )
    con.close()
    built = run_dbt(
        warehouse, *BUILD, "--select", "+fct_daily_snapshot +fct_loyalty_points_daily", as_of=AS_OF
    )
    assert built.returncode == 0, built.stdout[-3000:]
    assert _raw(warehouse, daily) == [before]  # same days, from the same first date
    assert _raw(warehouse, loyalty) == [loyalty_before]
    # Kept, not dropped: the order is in staging and in the (incremental) enriched orders
    # with its date.
    for model in ("int_orders_dated", "int_orders_enriched"):
        assert _raw(
            warehouse,
            f"SELECT cast(created_date AS VARCHAR) FROM intermediate.{model} WHERE order_id = ?",
            [order],
        ) == [("1970-01-01",)]


def test_delivered_order_dated_1970_does_not_stretch_the_cohorts(built_warehouse, tmp_path):
    """Issue 15: a delivered order dated 1970-01-01 moved its customer into a 1970 cohort of
    ~680 months. The order moved is the latest delivered one of a customer with an earlier
    delivered order in the same month, so the known answer is the cohorts exactly as before
    (the implausible order starts no cohort and counts in no month; plausible_dates names
    it and the run does not publish)."""
    import shutil

    from dbt_helpers import log_raw_change, run_dbt
    from reliability_support import AS_OF, BUILD

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, warehouse)
    cohorts = "SELECT * FROM marts.fct_customer_cohorts ORDER BY ALL"
    before = _raw(warehouse, cohorts)
    con = duckdb.connect(str(warehouse))
    (order,) = con.execute(
        """
        SELECT d.order_id FROM intermediate.int_orders_dated d
        WHERE d.status = 'delivered'
          AND EXISTS (SELECT 1 FROM intermediate.int_orders_dated e
                      WHERE e.user_id = d.user_id AND e.status = 'delivered'
                        AND e.created_date < d.created_date
                        AND date_trunc('month', e.created_date)
                            = date_trunc('month', d.created_date))
        ORDER BY d.created_date DESC, d.order_id DESC LIMIT 1
        """
    ).fetchone()
    log_raw_change(con, "orders_order", [order])  # as the extraction would
    con.execute(
        "UPDATE raw.orders_order SET created_at = '1970-01-01 00:00:00+00' WHERE id = ?", [order]
    )
    con.close()
    built = run_dbt(warehouse, *BUILD, "--select", "+fct_customer_cohorts", as_of=AS_OF)
    assert built.returncode == 0, built.stdout[-3000:]
    assert _raw(
        warehouse,
        "SELECT cast(created_date AS VARCHAR) FROM intermediate.int_orders_enriched "
        "WHERE order_id = ?",
        [order],
    ) == [("1970-01-01",)]  # the change reached the models
    assert _raw(warehouse, "SELECT min(cohort_month) FROM marts.fct_customer_cohorts") == [
        (before[0][1],)
    ]
    assert _raw(warehouse, cohorts) == before
