"""Payment, reconciliation, VIP-tier and loyalty-effect marts (METRICS.md: "Payments and one
reconciled view of revenue", "VIP and loyalty effects") on the shared generated source
(`owners_build`), against the same figures computed independently (pandas) from the
source tables, to the cent."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

CENT = Decimal("0.01")
TIERS = ("none", "silver", "gold", "platinum")


def _read(source: Path, sql: str) -> pd.DataFrame:
    with sqlite3.connect(source) as con:
        return pd.read_sql(sql, con)


def _mart(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601")


def _money(value) -> Decimal:
    """A source amount (SQLite REAL or INTEGER) as the exact decimal it stands for."""
    return Decimal(str(value)).quantize(CENT)


def _pct(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(CENT, ROUND_HALF_UP)


def _ratio(numerator, denominator, places: str = "0.01") -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(places), ROUND_HALF_UP)


def _zones(source: Path) -> dict[int, ZoneInfo]:
    websites = _read(source, "select id, timezone from accounts_website")
    return {int(w): ZoneInfo(z) for w, z in zip(websites.id, websites.timezone, strict=True)}


def _local_dates(times: pd.Series, sites: pd.Series, zones: dict) -> list[dt.date | None]:
    return [
        None if pd.isna(ts) else ts.astimezone(zones[int(w)]).date()
        for ts, w in zip(times, sites, strict=True)
    ]


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def source(owners_build) -> dict:
    """The source tables the marts read, with local business dates."""
    path = owners_build.source
    zones = _zones(path)
    websites = _read(path, "select id, created_at from accounts_website")
    opened = dict(zip(websites.id, _local_dates(_utc(websites.created_at), websites.id, zones),
                      strict=True))
    orders = _read(path, "select id, website_id, user_id, status, total, created_at "
                         "from orders_order")
    orders["created"] = _utc(orders.created_at)
    orders["day"] = _local_dates(orders.created, orders.website_id, zones)
    orders["total"] = [_money(v) for v in orders.total]
    payments = _read(path, "select id, website_id, order_id, purpose, method, amount, status, "
                           "created_at, completed_at from payments_payment")
    payments["created"] = _utc(payments.created_at)
    payments["completed"] = _utc(payments.completed_at)
    payments["day"] = _local_dates(payments.created, payments.website_id, zones)
    payments["completed_day"] = _local_dates(payments.completed, payments.website_id, zones)
    payments["amount"] = [_money(v) for v in payments.amount]
    refunds = _read(path, "select r.id, r.amount, r.created_at, p.website_id, p.purpose"
                          " from payments_refund r join payments_payment p on p.id = r.payment_id")
    refunds["day"] = _local_dates(_utc(refunds.created_at), refunds.website_id, zones)
    refunds["amount"] = [_money(v) for v in refunds.amount]
    accounts = _read(path, "select id, website_id, user_id, created_at from loyalty_loyaltyaccount")
    accounts["day"] = _local_dates(_utc(accounts.created_at), accounts.website_id, zones)
    ledger = _read(path, "select t.id, t.account_id, t.points, t.transaction_type, t.created_at,"
                         " a.website_id, a.user_id from loyalty_loyaltytransaction t"
                         " join loyalty_loyaltyaccount a on a.id = t.account_id")
    ledger["created"] = _utc(ledger.created_at)
    ledger["day"] = _local_dates(ledger.created, ledger.website_id, zones)
    redemptions = _read(path, "select r.id, r.status, r.created_at, a.website_id"
                              " from loyalty_redemption r"
                              " join loyalty_loyaltyaccount a on a.id = r.account_id")
    redemptions["day"] = _local_dates(_utc(redemptions.created_at), redemptions.website_id, zones)
    return {
        "zones": zones, "opened": opened, "orders": orders, "payments": payments,
        "refunds": refunds, "accounts": accounts, "ledger": ledger,
        "redemptions": redemptions, "as_of": owners_build.as_of,
    }


def _order_calendar(src: dict) -> dict[int, list[dt.date]]:
    """int_website_days_spined: first order (on or after opening) to as_of, per website."""
    orders = src["orders"]
    calendar = {}
    for website, rows in orders.groupby("website_id"):
        first = min(d for d in rows.day if d >= src["opened"][website])
        calendar[int(website)] = _days(first, src["as_of"])
    return calendar


def test_payment_health_matches_the_source(owners_build, source) -> None:
    payments = source["payments"]
    seen = payments[payments.day <= source["as_of"]]
    failed = payments[payments.status == "failed"]
    first_failure = failed.groupby("order_id").created.min()
    retry = [
        not pd.isna(order) and order in first_failure.index and first_failure[order] < created
        for order, created in zip(seen.order_id, seen.created, strict=True)
    ]
    seen = seen.assign(retry=retry)
    expected = {}
    for (website, day, method), rows in seen.groupby(["website_id", "day", "method"]):
        completed = rows.status.isin(["completed", "refunded"])
        n_failed = int((rows.status == "failed").sum())
        expected[(website, day, method)] = (
            len(rows), int(completed.sum()), n_failed, int((rows.status == "pending").sum()),
            _pct(int(completed.sum()), int(completed.sum()) + n_failed),
            sum(rows.amount, Decimal(0)), sum(rows.amount[completed], Decimal(0)),
            sum(rows.amount[rows.status == "failed"], Decimal(0)), int(rows.retry.sum()),
        )
    got = {
        (row[0], row[1], row[2]): tuple(row[3:])
        for row in _mart(owners_build.warehouse,
                         "select website_id, business_date, method, attempts, completed, failed,"
                         " pending, success_rate, amount_attempted, amount_collected,"
                         " amount_failed, retries from marts.fct_payment_health_daily")
    }
    assert got == expected
    # The fixture has every case: failures and their retries, pending attempts.
    totals = [sum(v[i] for v in got.values()) for i in (2, 3, 8)]
    assert all(totals), totals


def test_revenue_reconciliation_matches_the_source(owners_build, source) -> None:
    orders, payments, refunds = source["orders"], source["payments"], source["refunds"]
    counted = orders[orders.status != "cancelled"]
    collected = payments[payments.status.isin(["completed", "refunded"])
                         & payments.completed.notna()]
    paid_day = collected[collected.purpose == "order"].groupby("order_id").completed_day.min()
    # An unpaid order is owed until after every day (date.max).
    counted = counted.assign(paid_day=[paid_day.get(o, dt.date.max) for o in counted.id])
    expected = {}
    for website, days in _order_calendar(source).items():
        mine = counted[counted.website_id == website]
        money = collected[collected.website_id == website]
        back = refunds[refunds.website_id == website]
        for day in days:
            owed = mine[(mine.day >= days[0]) & (mine.day <= day) & (mine.paid_day > day)]
            paid_in = money[money.completed_day == day]
            refunded = sum(back.amount[back.day == day], Decimal(0))
            orders_in = sum(paid_in.amount[paid_in.purpose == "order"], Decimal(0))
            refunded_orders = sum(
                back.amount[(back.day == day) & (back.purpose == "order")], Decimal(0))
            expected[(website, day)] = (
                sum(mine.total[mine.day == day], Decimal(0)),
                sum(paid_in.amount, Decimal(0)) - refunded,
                refunded,
                sum(owed.total, Decimal(0)),
                orders_in - refunded_orders,
                len(owed),
            )
    got = {
        (row[0], row[1]): tuple(row[2:])
        for row in _mart(owners_build.warehouse,
                         "select website_id, business_date, gross_revenue, collected_revenue,"
                         " refunds, receivables, collected_order_revenue, receivable_orders"
                         " from marts.fct_revenue_reconciliation_daily")
    }
    assert got == expected
    # gross, collected and refunds are fct_daily_snapshot's, day for day.
    snapshot = {
        (row[0], row[1]): tuple(row[2:])
        for row in _mart(owners_build.warehouse,
                         "select website_id, business_date, gross_revenue, collected_revenue,"
                         " refunds from marts.fct_daily_snapshot")
    }
    assert snapshot == {key: value[:3] for key, value in got.items()}
    # Orders are owed across days (bank transfers clear in 12-48 hours).
    assert sum(1 for value in got.values() if value[3] > 0) > len(got) / 4


def _vip_tier_at(path: Path, orders: pd.DataFrame) -> list[str]:
    """The tier held at each order's created_at: each upgrade's tier from its created_at to
    the next upgrade, the latest until the current tier's expires_at."""
    upgrades = _read(path, "select id, user_id, to_tier, created_at from vip_vipupgrade")
    upgrades["created"] = _utc(upgrades.created_at)
    current = _read(path, "select user_id, tier_level, upgraded_at, expires_at from vip_viptier")
    expires = dict(zip(current.user_id, _utc(current.expires_at), strict=True))
    periods = defaultdict(list)
    for user, rows in upgrades.sort_values(["created", "id"]).groupby("user_id"):
        starts = list(rows.created)
        for i, (tier, start) in enumerate(zip(rows.to_tier, starts, strict=True)):
            end = starts[i + 1] if i + 1 < len(starts) else expires.get(user)
            periods[user].append((start, None if end is None or pd.isna(end) else end, tier))
    for user, tier, start, end in zip(current.user_id, current.tier_level,
                                      _utc(current.upgraded_at), _utc(current.expires_at),
                                      strict=True):
        if user not in periods:
            periods[user].append((start, None if pd.isna(end) else end, tier))
    held = []
    for user, created in zip(orders.user_id, orders.created, strict=True):
        tiers = [
            tier for start, end, tier in periods.get(user, [])
            if start <= created and (end is None or created < end)
        ]
        held.append(max(tiers) if tiers else "none")
    return held


def test_vip_revenue_by_tier_matches_the_upgrade_history(owners_build, source) -> None:
    orders = source["orders"]
    counted = orders[(orders.status != "cancelled") & (orders.day <= source["as_of"])]
    counted = counted.assign(tier=_vip_tier_at(owners_build.source, counted))
    expected = {}
    for website, days in _order_calendar(source).items():
        mine = counted[counted.website_id == website]
        for day in days:
            today = mine[mine.day == day]
            gross = sum(today.total, Decimal(0))
            for tier in TIERS:
                rows = today[today.tier == tier]
                revenue = sum(rows.total, Decimal(0))
                expected[(website, day, tier)] = (len(rows), revenue, _pct(revenue, gross))
    got = {
        (row[0], row[1], row[2]): tuple(row[3:])
        for row in _mart(owners_build.warehouse,
                         "select website_id, business_date, tier, orders, gross_revenue, share"
                         " from marts.fct_vip_revenue_by_tier_daily")
    }
    assert got == expected
    assert sum(v[0] for k, v in got.items() if k[2] != "none") > 0


def test_loyalty_members_monthly_matches_the_ledger(owners_build, source) -> None:
    orders, ledger = source["orders"], source["ledger"]
    first_entry = ledger.groupby("user_id").created.min()
    counted = orders[(orders.status != "cancelled") & (orders.day <= source["as_of"])]
    member = [
        user in first_entry.index and first_entry[user] <= created
        for user, created in zip(counted.user_id, counted.created, strict=True)
    ]
    counted = counted.assign(
        group=["member" if m else "non_member" for m in member],
        month=[d.replace(day=1) for d in counted.day],
    )
    expected = {}
    for website, days in _order_calendar(source).items():
        for month in sorted({d.replace(day=1) for d in days}):
            for group in ("member", "non_member"):
                rows = counted[(counted.website_id == website) & (counted.month == month)
                               & (counted.group == group)]
                revenue = sum(rows.total, Decimal(0))
                customers = rows.user_id.nunique()
                expected[(website, month, group)] = (
                    len(rows), customers, revenue, _ratio(revenue, len(rows)),
                    _ratio(len(rows), customers),
                )
    got = {
        (row[0], row[1], row[2]): tuple(row[3:])
        for row in _mart(owners_build.warehouse,
                         "select website_id, month, member_group, orders, customers,"
                         " gross_revenue, average_order_value, orders_per_customer"
                         " from marts.fct_loyalty_members_monthly")
    }
    assert got == expected
    assert all(got[(w, m, g)][0] for (w, m, g) in got if m < source["as_of"].replace(day=1))


def _loyalty_calendar(src: dict) -> dict[int, list[dt.date]]:
    """int_loyalty_days_spined: first ledger entry or completed redemption (on or after
    opening) to as_of."""
    ledger, redemptions = src["ledger"], src["redemptions"]
    days = pd.concat([
        ledger[["website_id", "day"]],
        redemptions[redemptions.status == "completed"][["website_id", "day"]],
    ])
    days = days[days.day <= src["as_of"]]
    return {
        int(website): _days(min(d for d in rows.day if d >= src["opened"][website]), src["as_of"])
        for website, rows in days.groupby("website_id")
    }


def test_loyalty_liability_matches_the_ledger_and_the_wallet_items(owners_build, source) -> None:
    ledger = source["ledger"]
    items = _read(owners_build.source, "select website_id, item_type, points_required,"
                                       " value_amount, is_active from loyalty_redemptionitem")
    wallet = items[(items.item_type == "wallet_credit") & (items.is_active == 1)]
    assert len(items[(items.item_type == "wallet_credit") & (items.is_active == 0)])
    expected = {}
    for website, days in _loyalty_calendar(source).items():
        mine = wallet[wallet.website_id == website]
        value = sum((_money(v) for v in mine.value_amount), Decimal(0))
        points = int(mine.points_required.sum())
        entries = ledger[(ledger.website_id == website) & (ledger.day >= days[0])]
        for day in days:
            outstanding = int(entries.points[entries.day <= day].sum())
            expected[(website, day)] = (
                outstanding,
                _ratio(value, points, "0.000001"),
                _ratio(outstanding * value, points),
            )
    got = {
        (row[0], row[1]): tuple(row[2:])
        for row in _mart(owners_build.warehouse,
                         "select website_id, business_date, outstanding_points, value_per_point,"
                         " liability from marts.fct_loyalty_liability_daily")
    }
    assert got == expected
    balances = {
        (row[0], row[1]): row[2]
        for row in _mart(owners_build.warehouse,
                         "select website_id, business_date, points_balance"
                         " from marts.fct_loyalty_points_daily")
    }
    assert balances == {key: value[0] for key, value in got.items()}


def test_loyalty_engagement_matches_the_ledger(owners_build, source) -> None:
    ledger, redemptions, accounts = source["ledger"], source["redemptions"], source["accounts"]
    completed = redemptions[redemptions.status == "completed"]
    expected = {}
    for website, days in _loyalty_calendar(source).items():
        entries = ledger[ledger.website_id == website]
        for day in days:
            today = entries[entries.day == day]
            window = entries[(entries.day <= day) & (entries.day > day - dt.timedelta(days=30))]
            opened = int(((accounts.website_id == website) & (accounts.day <= day)).sum())
            active = window.account_id.nunique()
            expected[(website, day)] = (
                int(((completed.website_id == website) & (completed.day == day)).sum()),
                int(-today.points[today.transaction_type == "redeem"].sum()),
                today.account_id.nunique(),
                active,
                opened,
                _pct(active, opened),
            )
    got = {
        (row[0], row[1]): tuple(row[2:])
        for row in _mart(owners_build.warehouse,
                         "select website_id, business_date, redemptions, points_redeemed,"
                         " clients_with_entries, clients_with_entries_30d, loyalty_accounts,"
                         " engagement_rate_30d from marts.fct_loyalty_engagement_daily")
    }
    assert got == expected
    assert sum(v[0] for v in got.values()) > 0
