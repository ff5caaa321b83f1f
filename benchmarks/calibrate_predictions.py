"""Calibration of dim_customer_predictions' models (METRICS.md, Customer value, predicted).

Per website: BG/NBD and Gamma-Gamma fitted (pipelines/predict/clv.py, as the dbt model
does) on the delivered orders placed up to `as_of − 90 days` (the calibration period), then
each customer's expected delivered-order days in the next 90 days compared with the
days they actually ordered (delivered) in (as_of − 90, as_of], in total and by the
customer's repeat frequency in the calibration period. Also the fit's wall time on every
customer at as_of (what a build costs).

Reads the operational source (SQLite) directly, as the pipeline's staging would: the
delivered orders, dated in the website's time zone. `as_of` defaults to the last business
date with an order. Prints Markdown.

    .venv/bin/python benchmarks/calibrate_predictions.py /work/bench100k/operational.db
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import time

import numpy as np
import pandas as pd

from pipelines.predict import clv

HOLDOUT_DAYS = 90
BUCKETS = [(0, 0), (1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, None)]


def delivered_days(source: str) -> pd.DataFrame:
    """One row per website, customer and business date with a delivered order: Σ total."""
    con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        zones = dict(con.execute("select id, timezone from accounts_website").fetchall())
        orders = pd.read_sql(
            "select website_id, user_id, created_at, total from orders_order"
            " where status = 'delivered'", con)
    finally:
        con.close()
    created = pd.to_datetime(orders.pop("created_at"), utc=True, format="ISO8601")
    day = pd.Series(pd.NaT, index=orders.index, dtype="datetime64[ns]")
    for website_id, zone in zones.items():
        mine = orders.website_id == website_id
        day[mine] = created[mine].dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
    orders["day"] = day
    orders["total"] = orders["total"].astype(float)
    return orders.groupby(["website_id", "user_id", "day"], as_index=False)["total"].sum()


def rfm_at(days: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """clv.INPUT_COLUMNS of every customer with a delivered day up to as_of."""
    seen = days[days.day <= as_of].copy()
    seen["first"] = seen.groupby(["website_id", "user_id"]).day.transform("min")
    seen["repeat_total"] = seen.total.where(seen.day > seen["first"], 0.0)
    per = seen.groupby(["website_id", "user_id"]).agg(
        first=("day", "min"), last=("day", "max"), n=("day", "size"),
        repeat_total=("repeat_total", "sum")).reset_index()
    per["frequency"] = (per.n - 1).astype(float)
    per["recency"] = (per["last"] - per["first"]).dt.days.astype(float)
    per["T"] = (as_of - per["first"]).dt.days.astype(float)
    per["monetary"] = (per.repeat_total / per.frequency).where(per.frequency > 0)
    return per[clv.INPUT_COLUMNS]


def bucket(frequency: pd.Series) -> pd.Series:
    labels = pd.Series("", index=frequency.index)
    for low, high in BUCKETS:
        inside = frequency >= low if high is None else frequency.between(low, high)
        labels[inside] = f"{low}+" if high is None else (
            str(low) if low == high else f"{low}-{high}")
    return labels


def calibration(days: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, float]:
    """Predicted against actual orders of the holdout, per website and frequency bucket;
    and the calibration fit's seconds."""
    cutoff = as_of - pd.Timedelta(days=HOLDOUT_DAYS)
    calib = rfm_at(days, cutoff)
    started = time.perf_counter()
    fitted = clv.predict_customers(calib)
    seconds = time.perf_counter() - started
    holdout = days[(days.day > cutoff) & (days.day <= as_of)]
    actual = holdout.groupby(["website_id", "user_id"]).size().rename("actual")
    fitted = fitted.join(actual, on=["website_id", "user_id"]).fillna({"actual": 0})
    fitted["bucket"] = bucket(fitted.frequency)
    order = [b for b in dict.fromkeys(bucket(pd.Series([lo for lo, _ in BUCKETS])))]
    rows = []
    for website_id, site in fitted.groupby("website_id"):
        for label in [*order, "total"]:
            part = site if label == "total" else site[site.bucket == label]
            if part.empty:
                continue
            predicted, real = part.expected_orders_90d.sum(), part.actual.sum()
            rows.append({
                "website_id": website_id, "frequency": label, "customers": len(part),
                "predicted": predicted, "actual": real,
                "error_pct": 100 * (predicted - real) / real if real else np.nan,
            })
    return pd.DataFrame(rows), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="the operational SQLite database")
    parser.add_argument(
        "--as-of", help="YYYY-MM-DD (default: the last business date with an order)")
    args = parser.parse_args()
    started = time.perf_counter()
    days = delivered_days(args.source)
    read = time.perf_counter() - started
    as_of = pd.Timestamp(args.as_of) if args.as_of else days.day.max()
    print(f"source {args.source}: {len(days):,} customer days with a delivered order "
          f"(read and dated in {read:.1f} s); as_of {as_of.date()}, "
          f"cutoff {(as_of - pd.Timedelta(days=HOLDOUT_DAYS)).date()}\n")
    table, calib_seconds = calibration(days, as_of)
    print("| website | frequency (calibration) | customers | predicted orders | actual | error |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in table.itertuples():
        print(f"| {row.website_id} | {row.frequency} | {row.customers:,} | {row.predicted:,.1f} | "
              f"{row.actual:,.0f} | {row.error_pct:+.1f} % |")
    full = rfm_at(days, as_of)
    started = time.perf_counter()
    fitted = clv.predict_customers(full)
    seconds = time.perf_counter() - started
    print(f"\ncalibration fit: {calib_seconds:.1f} s; fit at as_of: {len(full):,} customers, "
          f"{seconds:.1f} s ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)")
    status = fitted.groupby(["website_id", "fit_status"]).size()
    print("\nfit_status at as_of: " + ", ".join(f"website {w} {s}: {n:,}"
                                               for (w, s), n in status.items()))
    checks = fitted[fitted.fit_status == "fitted"]
    print(f"p_alive in [0, 1]: {bool(checks.p_alive.between(0, 1).all())}; "
          f"365d >= 90d: {bool((checks.expected_orders_365d >= checks.expected_orders_90d).all())}")
    params = fitted.groupby("website_id")[clv.PARAMETERS].first()
    print("\nfitted parameters per website:\n" + params.to_string(float_format="{:.4g}".format))


if __name__ == "__main__":
    main()
