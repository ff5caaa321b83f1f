"""dim_customer_predictions on the shared owners' build (tests/integration/conftest.py):
its RFM columns against the same figures computed in pandas from the source tables, and
its model figures against the fit (pipelines/predict/clv.py) called directly on those
pandas inputs (METRICS.md, Customer value, predicted)."""

from __future__ import annotations

import sqlite3
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.predict import clv


def _read(source, sql: str) -> pd.DataFrame:
    with sqlite3.connect(source) as con:
        return pd.read_sql(sql, con)


@pytest.fixture(scope="module")
def rfm(owners_build) -> pd.DataFrame:
    """The RFM inputs from the source: delivered orders placed up to as_of (business date
    in the website's zone), per website and customer."""
    zones = {
        int(w): ZoneInfo(z)
        for w, z in _read(owners_build.source, "select id, timezone from accounts_website")
        .itertuples(index=False)
    }
    orders = _read(
        owners_build.source,
        "select website_id, user_id, status, total, created_at from orders_order",
    )
    created = pd.to_datetime(orders.created_at, utc=True, format="ISO8601")
    orders["day"] = [
        ts.astimezone(zones[int(w)]).date()
        for ts, w in zip(created, orders.website_id, strict=True)
    ]
    orders = orders[(orders.status == "delivered") & (orders.day <= owners_build.as_of)]
    orders = orders.assign(amount=[Decimal(str(v)) for v in orders.total])
    rows = []
    for (website_id, user_id), mine in orders.groupby(["website_id", "user_id"]):
        days = sorted(set(mine.day))
        repeat = sum(mine[mine.day > days[0]].amount, Decimal(0))
        rows.append({
            "website_id": int(website_id), "user_id": int(user_id),
            "delivered_orders": len(mine), "frequency": len(days) - 1,
            "recency": (days[-1] - days[0]).days, "T": (owners_build.as_of - days[0]).days,
            "repeat_total": repeat,
        })
    frame = pd.DataFrame(rows)
    frame["monetary"] = [
        float(total) / x if x > 0 else np.nan
        for total, x in zip(frame.repeat_total, frame.frequency, strict=True)
    ]
    return frame


@pytest.fixture(scope="module")
def mart(owners_build) -> pd.DataFrame:
    with duckdb.connect(str(owners_build.warehouse), read_only=True) as con:
        return con.execute(
            "select * from marts.dim_customer_predictions order by website_id, user_id"
        ).df()


def test_rfm_columns_match_the_source(rfm, mart):
    assert len(mart) == len(rfm) > 0
    assert (rfm.frequency > 0).any() and (rfm.frequency == 0).any()
    mine = rfm.sort_values(["website_id", "user_id"]).reset_index(drop=True)
    got = mart.reset_index(drop=True)
    assert got.user_id.tolist() == mine.user_id.tolist()
    assert got.website_id.tolist() == mine.website_id.tolist()
    assert got.delivered_orders.tolist() == mine.delivered_orders.tolist()
    assert got.frequency.tolist() == mine.frequency.tolist()
    assert got.recency_days.tolist() == mine.recency.tolist()
    assert got.t_days.tolist() == mine["T"].tolist()
    expected_monetary = [
        (total / x).quantize(Decimal("0.01"), ROUND_HALF_UP) if x > 0 else None
        for total, x in zip(mine.repeat_total, mine.frequency, strict=True)
    ]
    found = [None if pd.isna(v) else Decimal(str(v)) for v in got.monetary_value]
    assert found == expected_monetary


def test_model_figures_are_the_fit_of_the_source_inputs(rfm, mart):
    expected = clv.predict_customers(rfm).sort_values(["website_id", "user_id"])
    expected = expected.reset_index(drop=True)
    got = mart.reset_index(drop=True)
    assert (expected.fit_status == "fitted").all() and (got.fit_status == "fitted").all()
    for column in ("p_alive", "expected_orders_90d", "expected_orders_365d"):
        assert np.allclose(got[column].astype(float), expected[column], rtol=0, atol=1e-6), column
    for column in ("predicted_value_12m", "expected_order_value"):
        assert np.allclose(got[column].astype(float), expected[column], rtol=0, atol=0.005 + 1e-6)
    assert got.p_alive.between(0, 1).all()
    assert (got.expected_orders_365d >= got.expected_orders_90d).all()
    assert (got.loc[got.frequency == 0, "p_alive"] == 1.0).all()
    assert expected.groupby("website_id").bgnbd_r.nunique().eq(1).all()
