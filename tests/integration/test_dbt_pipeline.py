"""The whole batch path on a small generated business: demo generator → SQLite source →
extractor → two more simulated days (updates, cancellations, hard deletes) → incremental
extraction → DuckDB raw → `dbt build`. The marts must agree with figures computed straight
from the operational database (pandas on the SQLite rows), and every dbt test must pass
(the singular reconciliation tests included).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dbt_helpers import run_dbt

import seeds
from pipelines.extract import extract_all

START = dt.date(2026, 1, 1)
DAYS = 45
AS_OF = START + dt.timedelta(days=DAYS + 1)  # the last simulated day


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pipeline")
    source, warehouse = root / "operational.db", root / "warehouse.duckdb"
    seeds.generate(f"sqlite:///{source}", customers=300, days=DAYS, seed=7, start=START,
                   progress=False)
    report = extract_all(f"sqlite:///{source}", str(warehouse))
    assert not report.errors
    seeds.advance(f"sqlite:///{source}", days=2, progress=False)
    report = extract_all(f"sqlite:///{source}", str(warehouse))
    assert not report.errors
    result = run_dbt(warehouse, "build", as_of=AS_OF.isoformat())
    assert result.returncode == 0, result.stdout[-5000:]
    assert "ERROR=0" in result.stdout
    return source, warehouse


def _source(source: Path, sql: str) -> pd.DataFrame:
    with sqlite3.connect(source) as con:
        frame = pd.read_sql_query(sql, con)
    return frame


def _mart(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        relation = con.sql(sql)
        return pd.DataFrame(relation.fetchall(), columns=relation.columns)


def _local_dates(frame: pd.DataFrame, column: str, zones: dict[int, str]) -> pd.Series:
    stamps = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return pd.Series(
        [t.tz_convert(zones[w]).date() for t, w in zip(stamps, frame["website_id"], strict=True)],
        index=frame.index,
    )


def _money(values: pd.Series) -> Decimal:
    return sum((Decimal(str(v)) for v in values), Decimal("0"))


def test_gross_revenue_and_orders_per_day_match_the_source(built):
    source, warehouse = built
    zones = dict(_source(source, "select id, timezone from accounts_website").values)
    orders = _source(source, "select id, website_id, user_id, status, total, created_at "
                             "from orders_order")
    orders["business_date"] = _local_dates(orders, "created_at", zones)
    counted = orders[(orders["status"] != "cancelled") & (orders["business_date"] <= AS_OF)]
    snapshot = _mart(warehouse, "select website_id, business_date, total_orders, gross_revenue "
                                "from marts.fct_daily_snapshot")
    for website_id in zones:
        mine = counted[counted["website_id"] == website_id]
        theirs = snapshot[snapshot["website_id"] == website_id]
        assert theirs["total_orders"].sum() == len(mine)
        assert sum(theirs["gross_revenue"]) == _money(mine["total"])
        per_day = mine.groupby("business_date").size()
        mart_day = theirs.set_index("business_date")["total_orders"]
        assert (mart_day.reindex(per_day.index) == per_day).all()
        assert theirs["business_date"].max() == AS_OF


def test_delivered_orders_per_customer_match_the_source(built):
    source, warehouse = built
    zones = dict(_source(source, "select id, timezone from accounts_website").values)
    orders = _source(source, "select website_id, user_id, status, created_at from orders_order")
    orders["business_date"] = _local_dates(orders, "created_at", zones)
    delivered = orders[(orders["status"] == "delivered") & (orders["business_date"] <= AS_OF)]
    expected = delivered.groupby("user_id").size()
    dim = _mart(warehouse, "select user_id, total_orders from marts.dim_customers")
    got = dim.set_index("user_id")["total_orders"]
    assert (got.reindex(expected.index) == expected).all()
    assert got.drop(expected.index, errors="ignore").eq(0).all()


def test_vip_subscription_and_new_customers_match_the_source(built):
    """Point-in-time rules, recomputed naively order by order from the source rows."""
    source, warehouse = built
    zones = dict(_source(source, "select id, timezone from accounts_website").values)
    orders = _source(source, "select id, website_id, user_id, status, created_at "
                             "from orders_order where status <> 'cancelled'")
    orders["at"] = pd.to_datetime(orders["created_at"], utc=True, format="ISO8601")
    orders["business_date"] = _local_dates(orders, "created_at", zones)
    orders = orders[orders["business_date"] <= AS_OF]
    upgrades = _source(source, "select user_id, created_at from vip_vipupgrade")
    upgrades["at"] = pd.to_datetime(upgrades["created_at"], utc=True, format="ISO8601")
    tiers = _source(source, "select user_id, expires_at from vip_viptier")
    expires = dict(zip(tiers["user_id"],
                       pd.to_datetime(tiers["expires_at"], utc=True, format="ISO8601"),
                       strict=True))
    subscriptions = _source(source, "select user_id, status, started_at, current_period_end, "
                                    "cancelled_at from subscriptions_subscription")
    for column in ("started_at", "current_period_end", "cancelled_at"):
        subscriptions[column] = pd.to_datetime(subscriptions[column], utc=True, format="ISO8601")

    def is_vip(user_id: int, at: pd.Timestamp) -> bool:
        mine = upgrades.loc[upgrades["user_id"] == user_id, "at"]
        if not (mine <= at).any():
            return False
        if (mine > at).any():  # superseded by a later purchase, not expired
            return True
        expiry = expires.get(user_id)
        return expiry is None or pd.isna(expiry) or at < expiry

    def has_subscription(user_id: int, at: pd.Timestamp) -> bool:
        for row in subscriptions[subscriptions["user_id"] == user_id].itertuples():
            end = row.cancelled_at
            if pd.isna(end) and row.status == "EXPIRED":
                end = row.current_period_end
            if row.started_at <= at and (pd.isna(end) or at < end):
                return True
        return False

    orders["vip"] = [is_vip(u, t) for u, t in zip(orders["user_id"], orders["at"], strict=True)]
    orders["sub"] = [has_subscription(u, t)
                     for u, t in zip(orders["user_id"], orders["at"], strict=True)]
    every_counted = _source(source, "select website_id, user_id, created_at from orders_order "
                                    "where status <> 'cancelled'")
    every_counted["business_date"] = _local_dates(every_counted, "created_at", zones)
    first_dates = every_counted.groupby("user_id")["business_date"].min()
    new = first_dates[first_dates <= AS_OF]

    snapshot = _mart(warehouse, "select website_id, sum(vip_orders) as vip, "
                                "sum(subscription_orders) as sub, sum(new_customers) as new "
                                "from marts.fct_daily_snapshot group by website_id")
    snapshot = snapshot.set_index("website_id")
    users = _source(source, "select id, website_id from accounts_user").set_index("id")
    for website_id in zones:
        mine = orders[orders["website_id"] == website_id]
        assert snapshot.loc[website_id, "vip"] == mine["vip"].sum()
        assert snapshot.loc[website_id, "sub"] == mine["sub"].sum()
        assert snapshot.loc[website_id, "new"] == (
            users.loc[new.index, "website_id"] == website_id).sum()
    assert orders["vip"].any() and orders["sub"].any()
