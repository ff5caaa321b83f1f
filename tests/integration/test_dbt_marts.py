"""`dbt build` on a small hand-made raw layer: the marts agree with figures computed
independently (pandas) from the same source rows, and with a few known answers.

Two websites in different time zones (Kampala UTC+3, New York UTC-5/-4), seeded random
orders, payments and refunds around local midnight.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dbt_helpers import create_raw_schema, insert, run_dbt, ts

AS_OF = "2026-03-20"
ZONES = {1: "Africa/Kampala", 2: "America/New_York"}
STATUSES = ["pending", "confirmed", "delivered", "delivered", "delivered", "cancelled"]
METHODS = ["cash_on_delivery", "mtn_mobile_money", "airtel_money", "bank_transfer"]


def _source_rows(rng: random.Random) -> dict[str, list[dict]]:
    websites = [
        {"id": w, "name": f"site {w}", "domain": f"s{w}.example", "timezone": zone,
         "created_at": ts("2025-12-01 00:00"), "updated_at": ts("2025-12-01 00:00")}
        for w, zone in ZONES.items()
    ]
    users = [
        {"id": u, "website_id": 1 + u % 2, "email": f"u{u}@x", "is_active": True,
         "date_joined": ts("2026-01-01 00:00"), "updated_at": ts("2026-01-01 00:00")}
        for u in range(1, 21)
    ]
    orders, payments, refunds = [], [], []
    start = ts("2026-03-01 00:00")
    for order_id in range(1, 161):
        user = users[rng.randrange(len(users))]
        created = start + dt.timedelta(minutes=rng.randrange(0, 24 * 60 * 24))
        subtotal = Decimal(rng.randrange(500, 5000)) * 10
        discount = Decimal(rng.choice([0, 0, 0, 500, 1000]))
        fee = Decimal(2000)
        status = rng.choice(STATUSES)
        orders.append({
            "id": order_id, "website_id": user["website_id"], "user_id": user["id"],
            "status": status, "channel": rng.choice(["direct", "direct", "corporate"]),
            "subtotal": subtotal, "discount_amount": discount,
            "discount_type": "campaign" if discount else None, "delivery_fee": fee,
            "total": subtotal - discount + fee, "payment_method": rng.choice(METHODS),
            "payment_status": "completed", "created_at": created, "updated_at": created,
        })
        if status != "cancelled":
            completed = created + dt.timedelta(minutes=rng.randrange(0, 600))
            payments.append({
                "id": order_id, "website_id": user["website_id"], "user_id": user["id"],
                "purpose": "order", "order_id": order_id, "method": "cash_on_delivery",
                "amount": subtotal - discount + fee, "status": "completed",
                "created_at": created, "updated_at": completed, "completed_at": completed,
            })
            if rng.random() < 0.15:
                refunds.append({
                    "id": order_id, "payment_id": order_id, "amount": Decimal(1000),
                    "created_at": completed + dt.timedelta(days=rng.randrange(0, 3)),
                })
    # Known answers: order 1001 at 21:30 UTC on 5 March is 6 March in Kampala.
    orders.append({
        "id": 1001, "website_id": 1, "user_id": 2, "status": "delivered", "channel": "direct",
        "subtotal": Decimal("12345.67"), "discount_amount": Decimal(0), "delivery_fee": Decimal(0),
        "total": Decimal("12345.67"), "payment_method": "bank_transfer",
        "payment_status": "pending", "created_at": ts("2026-03-05 21:30"),
        "updated_at": ts("2026-03-05 21:30"),
    })
    # A subscription payment: revenue channel 'subscription', not an order.
    payments.append({
        "id": 5001, "website_id": 2, "user_id": 1, "purpose": "subscription",
        "reference_id": 1, "method": "bank_transfer", "amount": Decimal("40000.00"),
        "status": "completed", "created_at": ts("2026-03-10 12:00"),
        "updated_at": ts("2026-03-10 12:00"), "completed_at": ts("2026-03-10 12:00"),
    })
    return {"accounts_website": websites, "accounts_user": users, "orders_order": orders,
            "payments_payment": payments, "payments_refund": refunds}


def _business_date(frame: pd.DataFrame, column: str) -> pd.Series:
    zone = frame["website_id"].map(ZONES)
    return pd.Series(
        [pd.Timestamp(t).tz_convert(z).date() for t, z in zip(frame[column], zone, strict=True)],
        index=frame.index,
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[dict]]]:
    path = tmp_path_factory.mktemp("dbt") / "warehouse.duckdb"
    rows = _source_rows(random.Random(20260320))
    with duckdb.connect(str(path)) as con:
        create_raw_schema(con)
        for table, table_rows in rows.items():
            insert(con, table, table_rows)
    result = run_dbt(path, "build", as_of=AS_OF)
    assert result.returncode == 0, result.stdout[-5000:]
    assert "ERROR=0" in result.stdout
    return path, rows


def _query(path: Path, sql: str) -> pd.DataFrame:
    """Rows as Python objects: DECIMAL stays Decimal (DataFrame.df() would make floats)."""
    with duckdb.connect(str(path), read_only=True) as con:
        relation = con.sql(sql)
        return pd.DataFrame(relation.fetchall(), columns=relation.columns)


def test_daily_snapshot_matches_pandas(warehouse):
    path, rows = warehouse
    orders = pd.DataFrame(rows["orders_order"])
    orders["business_date"] = _business_date(orders, "created_at")
    counted = orders[(orders["status"] != "cancelled")
                     & (orders["business_date"] <= dt.date.fromisoformat(AS_OF))]
    expected = counted.groupby(["website_id", "business_date"]).agg(
        total_orders=("id", "count"), gross_revenue=("total", "sum"),
        unique_customers=("user_id", "nunique"),
    )
    mart = _query(path, "select * from marts.fct_daily_snapshot").set_index(
        ["website_id", "business_date"])
    joined = expected.join(mart.add_suffix("_mart"), how="left")
    assert (joined["total_orders"] == joined["total_orders_mart"]).all()
    assert (joined["gross_revenue"] == joined["gross_revenue_mart"]).all()
    assert (joined["unique_customers"] == joined["unique_customers_mart"]).all()
    # Zero days are rows too: one row per day from the first order date to as_of.
    for website_id in ZONES:
        days = mart.loc[website_id]
        first = orders.loc[orders["website_id"] == website_id, "business_date"].min()
        assert len(days) == (dt.date.fromisoformat(AS_OF) - first).days + 1
    assert mart["total_orders"].sum() == len(counted)


def test_order_placed_before_utc_midnight_is_next_local_day(warehouse):
    path, _ = warehouse
    row = _query(path, """
        select business_date from marts.fct_daily_snapshot s
        where website_id = 1 and bank_transfer_orders > 0
          and business_date = date '2026-03-06'
    """)
    assert len(row) == 1
    dated = _query(
        path, "select created_date from intermediate.int_orders_dated where order_id = 1001"
    )
    assert dated.iloc[0, 0] == dt.date(2026, 3, 6)


def test_collected_revenue_and_channels_match_pandas(warehouse):
    path, rows = warehouse
    payments = pd.DataFrame(rows["payments_payment"])
    payments["business_date"] = _business_date(payments, "completed_at")
    refunds = pd.DataFrame(rows["payments_refund"]).merge(
        payments[["id", "website_id"]], left_on="payment_id", right_on="id", suffixes=("", "_p"))
    refunds["business_date"] = _business_date(refunds, "created_at")
    as_of = dt.date.fromisoformat(AS_OF)
    collected = (payments.loc[payments["business_date"] <= as_of, "amount"].sum()
                 - refunds.loc[refunds["business_date"] <= as_of, "amount"].sum())
    snapshot = _query(
        path, "select sum(collected_revenue) as c, sum(refunds) as r from marts.fct_daily_snapshot"
    )
    assert snapshot["c"][0] == collected
    assert snapshot["r"][0] == refunds.loc[refunds["business_date"] <= as_of, "amount"].sum()
    channels = _query(path, """
        select channel, sum(amount) as amount, sum(transaction_count) as n
        from marts.fct_revenue_by_channel group by channel
    """).set_index("channel")
    assert len(channels) == 7
    assert channels.loc["subscription", "amount"] == Decimal("40000.00")
    assert channels.loc["subscription", "n"] == 1
    revenue_channels = ["direct_order", "subscription", "vip_upgrade", "corporate", "catering"]
    revenue = channels.loc[revenue_channels, "amount"].sum()
    assert revenue == collected


def test_dim_customers_matches_pandas(warehouse):
    path, rows = warehouse
    orders = pd.DataFrame(rows["orders_order"])
    orders["business_date"] = _business_date(orders, "created_at")
    delivered = orders[(orders["status"] == "delivered")
                       & (orders["business_date"] <= dt.date.fromisoformat(AS_OF))]
    expected = delivered.groupby("user_id").agg(n=("id", "count"), spent=("total", "sum"))
    dim = _query(path, "select * from marts.dim_customers").set_index("user_id")
    assert len(dim) == 20
    assert "email" not in dim.columns and "phone" not in dim.columns
    for user_id, row in dim.iterrows():
        if user_id in expected.index:
            assert row["total_orders"] == expected.loc[user_id, "n"]
            assert row["total_spent"] == expected.loc[user_id, "spent"]
            assert row["lifecycle_stage"] in ("new", "active")
        else:
            assert row["total_orders"] == 0
            assert row["lifecycle_stage"] == "prospect"
