"""Subscription marts (METRICS.md, Subscriptions) on the shared generated source
(`owners_build`): every day's subscriptions, subscribers and MRR, by website and by plan,
and every month's MRR movements, recomputed naively in pandas and plain Python from the
source tables (subscriptions_subscription, subscriptions_plan, accounts_user,
accounts_website, orders_order), equal to the cent.

The rules, restated here independently of the SQL: a subscription's monthly value is its
plan's price (monthly) or price x 52 / 12 rounded to the cent (weekly); it is active at
instant t when started_at <= t < ended_at (ended_at = cancelled_at for CANCELLED,
current_period_end for EXPIRED, none otherwise; PAUSED is active); a day's (a month's)
figures are read at its last instant, just before the midnight that ends it in the
website's zone.
"""

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


def _read(source: Path, sql: str) -> pd.DataFrame:
    with sqlite3.connect(source) as con:
        return pd.read_sql(sql, con)


def _mart(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(sql).df()


def _utc(value) -> dt.datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_localize("UTC").to_pydatetime()


def _pct(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(CENT, ROUND_HALF_UP)


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def _day_end(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The midnight after `day` in `zone`, as a UTC instant."""
    following = day + dt.timedelta(days=1)
    return dt.datetime(following.year, following.month, following.day, tzinfo=zone).astimezone(
        dt.UTC)


class Source:
    """The source's subscriptions with what the rules need, read once per module."""

    def __init__(self, source: Path, as_of: dt.date):
        self.as_of = as_of
        websites = _read(source, "select id, timezone, created_at from accounts_website")
        self.zones = {int(w): ZoneInfo(z) for w, z in zip(websites.id, websites.timezone,
                                                          strict=True)}
        opened = {int(w): _utc(c).astimezone(self.zones[int(w)]).date()
                  for w, c in zip(websites.id, websites.created_at, strict=True)}
        plans = _read(source, "select id, website_id, price, interval from subscriptions_plan")
        self.plans = {int(p.id): p for p in plans.itertuples()}
        self.value = {}
        for plan in plans.itertuples():
            price = _money(plan.price)
            self.value[int(plan.id)] = (
                price if plan.interval == "monthly"
                else (price * 52 / 12).quantize(CENT, ROUND_HALF_UP))
        subs = _read(source, "select s.id, s.user_id, s.plan_id, s.status, s.started_at, "
                             "s.current_period_end, s.cancelled_at, u.website_id "
                             "from subscriptions_subscription s "
                             "join accounts_user u on u.id = s.user_id")
        self.subs = []
        for row in subs.itertuples():
            ended = {"CANCELLED": _utc(row.cancelled_at),
                     "EXPIRED": _utc(row.current_period_end)}.get(row.status)
            self.subs.append({
                "id": int(row.id), "user": int(row.user_id), "plan": int(row.plan_id),
                "website": int(row.website_id), "status": row.status,
                "start": _utc(row.started_at), "end": ended,
                "value": self.value[int(row.plan_id)],
            })
        # The daily calendar: first order (on or after the opening) to as_of.
        orders = _read(source, "select website_id, created_at from orders_order")
        self.first_day = {}
        for website, created in zip(orders.website_id, orders.created_at, strict=True):
            day = _utc(created).astimezone(self.zones[int(website)]).date()
            if day >= opened[int(website)]:
                self.first_day[int(website)] = min(day, self.first_day.get(int(website), day))

    def active_at(self, website: int, instant: dt.datetime) -> list[dict]:
        """Subscriptions of the website active at the last instant before `instant`."""
        return [s for s in self.subs if s["website"] == website and s["start"] < instant
                and (s["end"] is None or s["end"] >= instant)]

    def days(self, website: int) -> list[dt.date]:
        first = self.first_day[website]
        return [first + dt.timedelta(days=k) for k in range((self.as_of - first).days + 1)]


@pytest.fixture(scope="module")
def src(owners_build) -> Source:
    return Source(owners_build.source, owners_build.as_of)


def test_the_fixture_holds_switches_comebacks_and_ends_of_each_kind(src) -> None:
    """The source really has what the marts classify, so the tests below prove something."""
    by_user = defaultdict(list)
    for s in src.subs:
        by_user[s["user"]].append(s)
    switches = comebacks = 0
    for subs in by_user.values():
        subs.sort(key=lambda s: s["start"])
        for before, after in zip(subs, subs[1:], strict=False):
            if before["end"] == after["start"] and before["status"] == "CANCELLED":
                assert before["plan"] != after["plan"]
                assert src.plans[before["plan"]].website_id == src.plans[after["plan"]].website_id
                switches += 1
            elif before["end"] is not None and after["start"] > before["end"]:
                comebacks += 1
    statuses = {s["status"] for s in src.subs}
    assert switches >= 2 and comebacks >= 2
    assert {"ACTIVE", "PAUSED", "CANCELLED", "EXPIRED"} <= statuses
    assert any(p.interval == "weekly" for p in src.plans.values())


def test_daily_subscriptions_subscribers_and_mrr_match_the_source(owners_build, src) -> None:
    mart = _mart(owners_build.warehouse, "select * from marts.fct_subscriptions_daily "
                                         "order by website_id, business_date")
    expected = []
    for website, zone in sorted(src.zones.items()):
        for day in src.days(website):
            active = src.active_at(website, _day_end(day, zone))
            expected.append((website, day, len(active), len({s["user"] for s in active}),
                             sum((s["value"] for s in active), Decimal("0.00"))))
    got = [(int(r.website_id), r.business_date.date(), int(r.active_subscriptions),
            int(r.active_subscribers), _money(r.mrr)) for r in mart.itertuples()]
    assert got == expected
    assert any(row[2] > 0 for row in expected)


def test_plan_mix_matches_the_source_and_adds_up(owners_build, src) -> None:
    mart = _mart(owners_build.warehouse, "select * from marts.fct_subscription_plans_daily "
                                         "order by website_id, business_date, plan_id")
    expected = []
    for website, zone in sorted(src.zones.items()):
        plans = sorted(p for p, row in src.plans.items() if row.website_id == website)
        for day in src.days(website):
            active = src.active_at(website, _day_end(day, zone))
            total = sum((s["value"] for s in active), Decimal("0.00"))
            for plan in plans:
                mine = [s for s in active if s["plan"] == plan]
                mrr = sum((s["value"] for s in mine), Decimal("0.00"))
                expected.append((website, day, plan, len(mine), len({s["user"] for s in mine}),
                                 mrr, _pct(mrr, total)))
    got = [(int(r.website_id), r.business_date.date(), int(r.plan_id),
            int(r.active_subscriptions), int(r.active_subscribers), _money(r.mrr),
            None if pd.isna(r.mrr_share) else _money(r.mrr_share)) for r in mart.itertuples()]
    assert got == expected


def _months(src: Source, website: int) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    """(month, opening instant, closing instant) from the first month with data to as_of's."""
    zone = src.zones[website]
    as_of_end = _day_end(src.as_of, zone)
    firsts = [src.first_day[website]] + [
        s["start"].astimezone(zone).date() for s in src.subs
        if s["website"] == website and s["start"] < as_of_end]
    month = min(firsts).replace(day=1)
    out = []
    while month <= src.as_of:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        last = min(following - dt.timedelta(days=1), src.as_of)
        out.append((month, _day_end(month - dt.timedelta(days=1), zone), _day_end(last, zone)))
        month = following
    return out


def _user_mrr(src: Source, website: int, instant: dt.datetime) -> dict[int, Decimal]:
    mrr = defaultdict(lambda: Decimal("0.00"))
    for s in src.active_at(website, instant):
        mrr[s["user"]] += s["value"]
    return {user: value for user, value in mrr.items() if value > 0}


def test_mrr_movements_match_the_source(owners_build, src) -> None:
    mart = _mart(owners_build.warehouse, "select * from marts.fct_mrr_movements_monthly "
                                         "order by website_id, month")
    expected = []
    kinds = defaultdict(int)
    for website in sorted(src.zones):
        months = _months(src, website)
        ends = [_user_mrr(src, website, months[0][1])] + [
            _user_mrr(src, website, closing) for _, _, closing in months]
        for k, (month, _, _) in enumerate(months, start=1):
            before, now = ends[k - 1], ends[k]
            earlier = set().union(*ends[: k - 1]) if k > 1 else set()
            row = defaultdict(lambda: Decimal("0.00"))
            counts = defaultdict(int)
            for user in set(before) | set(now):
                a, b = before.get(user, Decimal(0)), now.get(user, Decimal(0))
                if a == 0:
                    kind = "reactivation" if user in earlier else "new"
                    row[kind] += b
                elif b == 0:
                    kind = "churn"
                    row["churn"] -= a
                elif b > a:
                    kind = "expansion"
                    row[kind] += b - a
                elif b < a:
                    kind = "contraction"
                    row[kind] += a - b
                else:
                    kind = "unchanged"
                counts[kind] += 1
                kinds[kind] += 1
            opening = sum(before.values(), Decimal("0.00"))
            expected.append((
                website, month, opening, row["new"], row["reactivation"], row["expansion"],
                row["contraction"], row["churn"], sum(now.values(), Decimal("0.00")),
                len(before), counts["churn"], len(now), _pct(counts["churn"], len(before)),
                _pct(-row["churn"], opening),
            ))
    got = [(int(r.website_id), r.month.date(), _money(r.opening_mrr), _money(r.new_mrr),
            _money(r.reactivation_mrr), _money(r.expansion_mrr), _money(r.contraction_mrr),
            _money(r.churned_mrr), _money(r.closing_mrr), int(r.opening_subscribers),
            int(r.subscribers_churned), int(r.closing_subscribers),
            None if pd.isna(r.subscriber_churn_rate) else _money(r.subscriber_churn_rate),
            None if pd.isna(r.revenue_churn_rate) else _money(r.revenue_churn_rate))
           for r in mart.itertuples()]
    assert got == expected
    # Every kind of movement happens in the fixture, and the months chain and add up.
    assert kinds["new"] and kinds["reactivation"] and kinds["churn"]
    assert kinds["expansion"] + kinds["contraction"] > 0
    for previous, row in zip(expected, expected[1:], strict=False):
        if previous[0] == row[0]:
            assert row[2] == previous[8]
    for row in expected:
        opening, new, back, up, down, churned, closing = row[2:9]
        assert opening + new + back + up - down + churned == closing
