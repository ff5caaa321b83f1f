"""`marts.vip_growth(date_from, date_to)` (METRICS.md: VIP growth rate over a window) on the
shared build, against VIP customers counted independently from fct_vip_tiers_daily (itself
tested against the upgrade history in test_dbt_business_marts)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import duckdb


def _vip_at(con, website: int, day: dt.date) -> int:
    """VIP customers at the end of the last calendar day on or before `day`."""
    (found,) = con.execute(
        "select coalesce(sum(customers), 0) from marts.fct_vip_tiers_daily where website_id = ? "
        "and business_date = (select max(business_date) from marts.fct_vip_tiers_daily "
        "where website_id = ? and business_date <= ?)",
        [website, website, day],
    ).fetchone()
    return int(found)


def test_vip_growth_over_each_month_matches_the_tier_counts(owners_build) -> None:
    con = duckdb.connect(str(owners_build.warehouse), read_only=True)
    websites = [
        w for (w,) in con.execute("select website_id from marts.dim_websites order by 1").fetchall()
    ]
    checked = 0
    for start in (dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)):
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        rows = {
            row[0]: row[1:]
            for row in con.execute(
                "select website_id, vip_customers_at_start, vip_customers_at_end, growth_rate "
                "from marts.vip_growth(?, ?)",
                [start, end],
            ).fetchall()
        }
        for website in websites:
            before = _vip_at(con, website, start - dt.timedelta(days=1))
            after = _vip_at(con, website, end)
            rate = (
                (Decimal(after - before) * 100 / before).quantize(Decimal("0.01"), ROUND_HALF_UP)
                if before
                else None
            )
            assert rows[website] == (before, after, rate), (website, start)
            checked += before > 0 and after != before
    assert checked, "no window with VIP customers at its start and a change: proves nothing"
