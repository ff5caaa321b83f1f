"""Campaign, delivery and VIP marts on a generated source, extracted and built by dbt, against
the same figures computed independently (pandas) from the source tables (METRICS.md)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest
from dbt_helpers import run_dbt

import seeds
from pipelines.extract import extract_all

START = dt.date(2026, 1, 1)
AS_OF = "2026-02-28"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("business")
    source, warehouse = root / "source.db", root / "warehouse.duckdb"
    seeds.generate(
        f"sqlite:///{source}", customers=600, days=75, seed=11, start=START, progress=False
    )
    assert extract_all(f"sqlite:///{source}", str(warehouse)).ok
    result = run_dbt(
        warehouse,
        "build",
        "--select",
        "+fct_campaign_performance",
        "+fct_deliveries_daily",
        "+fct_vip_tiers_daily",
        "--indirect-selection",
        "cautious",
        as_of=AS_OF,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    return source, warehouse


def _read(source: Path, sql: str) -> pd.DataFrame:
    with sqlite3.connect(source) as con:
        return pd.read_sql(sql, con)


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601")


def _pct(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )


def _zones(source: Path) -> dict[int, ZoneInfo]:
    websites = _read(source, "select id, timezone from accounts_website")
    return {int(w): ZoneInfo(z) for w, z in zip(websites.id, websites.timezone, strict=True)}


def _local_dates(times: pd.Series, sites: pd.Series, zones: dict) -> list[str]:
    return [
        ts.astimezone(zones[int(w)]).date().isoformat() for ts, w in zip(times, sites, strict=True)
    ]


def test_campaign_performance_matches_the_source(built) -> None:
    source, warehouse = built
    zones = _zones(source)
    orders = _read(
        source,
        "select id, website_id, campaign_id, user_id, status, total, discount_amount,"
        " created_at from orders_order where campaign_id is not null",
    )
    campaigns = _read(
        source, "select id, website_id, start_date, end_date, budget from campaigns_campaign"
    )
    recipients = _read(source, "select campaign_id, user_id from campaigns_campaignrecipient")
    orders["created"] = _utc(orders.created_at)
    orders["day"] = _local_dates(orders.created, orders.website_id, zones)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        got = {
            row[0]: row[1:]
            for row in con.execute(
                "select campaign_id, orders_influenced, revenue_generated, campaign_cost,"
                " customers_reached, conversion_rate, roi, budget_used"
                " from marts.fct_campaign_performance"
            ).fetchall()
        }
    assert set(got) == set(campaigns.id)
    assert any(row[0] for row in got.values())
    for campaign in campaigns.itertuples():
        mine = orders[
            (orders.campaign_id == campaign.id)
            & (orders.status != "cancelled")
            & (orders.day <= AS_OF)
            & (orders.created >= _utc(pd.Series([campaign.start_date]))[0])
            & (orders.created <= _utc(pd.Series([campaign.end_date]))[0])
        ]
        revenue = sum((Decimal(str(v)) for v in mine.total), Decimal(0))
        cost = sum((Decimal(str(v)) for v in mine.discount_amount), Decimal(0))
        reached = set(recipients[recipients.campaign_id == campaign.id].user_id)
        converted = reached & set(mine.user_id)
        budget = (
            None
            if campaign.budget is None or pd.isna(campaign.budget)
            else Decimal(str(campaign.budget))
        )
        expected = (
            len(mine),
            revenue,
            cost,
            len(reached),
            _pct(len(converted), len(reached)),
            _pct(revenue - cost, cost),
            _pct(cost, budget),
        )
        assert got[campaign.id] == expected, campaign.id


def test_deliveries_daily_matches_the_source(built) -> None:
    source, warehouse = built
    zones = _zones(source)
    frame = _read(
        source,
        "select d.id, d.status, d.delivered_at, o.website_id, o.created_at"
        " from delivery_delivery d join orders_order o on o.id = d.order_id",
    )
    frame["created"] = _utc(frame.created_at)
    frame["day"] = _local_dates(frame.created, frame.website_id, zones)
    frame = frame[frame.day <= AS_OF]
    delivered = frame[(frame.status == "delivered") & frame.delivered_at.notna()].copy()
    # exact durations, in microseconds (the mart times to the microsecond, then rounds)
    durations = (_utc(delivered.delivered_at) - delivered.created).to_numpy()
    micros = durations.astype("timedelta64[us]").astype("int64")
    delivered["exact_minutes"] = micros / 60_000_000
    delivered["minutes"] = [
        (Decimal(int(us)) / 60_000_000).quantize(Decimal("0.01"), ROUND_HALF_UP) for us in micros
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        got = con.execute(
            "select website_id, cast(business_date as varchar), deliveries, delivered_deliveries,"
            " failed_deliveries, on_time_deliveries, median_delivery_minutes,"
            " p90_delivery_minutes, on_time_rate"
            " from marts.fct_deliveries_daily where deliveries > 0 order by 1, 2"
        ).fetchall()
    expected_days = frame.groupby(["website_id", "day"]).size()
    assert len(got) == len(expected_days)
    for website, day, count, n_delivered, failed, on_time, median, p90, rate in got:
        rows = frame[(frame.website_id == website) & (frame.day == day)]
        done = delivered[(delivered.website_id == website) & (delivered.day == day)]
        minutes = done.exact_minutes
        assert count == len(rows)
        assert n_delivered == len(done)
        assert failed == (rows.status == "failed").sum()
        assert on_time == (done.exact_minutes <= 45).sum()
        assert rate == _pct(on_time, len(done))
        if len(done):
            assert abs(float(median) - minutes.quantile(0.5)) <= 0.006
            assert abs(float(p90) - minutes.quantile(0.9)) <= 0.006


def test_vip_tiers_at_as_of_match_the_upgrade_history(built) -> None:
    source, warehouse = built
    zones = _zones(source)
    upgrades = _read(
        source,
        "select g.user_id, g.to_tier, g.created_at, u.website_id"
        " from vip_vipupgrade g join accounts_user u on u.id = g.user_id",
    )
    current = _read(source, "select user_id, expires_at from vip_viptier")
    expires = dict(zip(current.user_id, _utc(current.expires_at), strict=True))
    upgrades["created"] = _utc(upgrades.created_at)
    as_of = dt.date.fromisoformat(AS_OF)
    expected: dict[tuple[int, str], int] = {}
    for (user, website), rows in upgrades.groupby(["user_id", "website_id"]):
        zone = zones[int(website)]
        day_end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), zone)
        rows = rows.sort_values("created")
        before = rows[rows.created < day_end]
        if before.empty:
            continue
        latest_overall = len(before) == len(rows)
        expiry = expires.get(user)
        held = not latest_overall or expiry is None or pd.isna(expiry) or expiry > day_end
        if held:
            key = (int(website), before.iloc[-1].to_tier)
            expected[key] = expected.get(key, 0) + 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        got = {
            (website, tier): customers
            for website, tier, customers in con.execute(
                "select website_id, tier, customers from marts.fct_vip_tiers_daily"
                " where business_date = ? and customers > 0",
                [as_of],
            ).fetchall()
        }
    assert got == expected
    assert got  # the generated history has VIP customers at as_of
