"""The dashboard page itself, without a browser: the data cannot break out of its script
element, and a warehouse without marts is refused with a clear message."""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from pipelines.publish import collect, render


def embedded(html: str) -> dict:
    match = re.search(r'<script id="payload" type="application/json">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


@pytest.mark.parametrize(
    "name", ["</script><script>alert(1)</script>", "<!-- a", "Fish & chips", 'Ugali & "greens"']
)
def test_names_cannot_end_the_data_script(name):
    payload = {"meal_names": {"cols": ["meal_id", "meal_name"], "rows": [[1, name]]}}
    html = render(payload)
    assert html.count("</script>") == 2  # the data's and the code's own
    assert "<!--" not in html.split('id="payload"')[1]
    assert embedded(html) == payload


def test_the_page_inlines_everything():
    html = render({"websites": []})
    assert "/*__" not in html  # every placeholder filled
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
    assert "default-src 'none'" in html


def test_a_warehouse_without_marts_is_refused():
    con = duckdb.connect()
    try:
        with pytest.raises(LookupError, match="fct_daily_snapshot is missing"):
            collect(con)
    finally:
        con.close()


def test_a_website_whose_last_day_is_today_is_marked_today_so_far():
    """The frequent refresh's marts end with today's partial day: the dashboard says so."""
    import datetime as dt
    import zoneinfo

    from pipelines import duck
    from pipelines.publish.data import _websites

    con = duck.connect(":memory:")
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_websites (website_id int, website_name varchar, "
        "currency varchar, timezone varchar)"
    )
    con.execute(
        "insert into marts.dim_websites values (1, 'Kampala', 'UGX', 'Africa/Kampala'), "
        "(2, 'Lagos', 'NGN', 'Africa/Lagos')"
    )
    now = dt.datetime.now(dt.UTC)
    kampala = now.astimezone(zoneinfo.ZoneInfo("Africa/Kampala")).date()
    lagos = now.astimezone(zoneinfo.ZoneInfo("Africa/Lagos")).date()
    con.execute("create table marts.fct_daily_snapshot (website_id int, business_date date)")
    con.execute(
        "insert into marts.fct_daily_snapshot values (1, ?), (1, ?), (2, ?)",
        [kampala - dt.timedelta(days=1), kampala, lagos - dt.timedelta(days=1)],
    )
    found = {w["id"]: (w["as_of"], w["today_so_far"]) for w in _websites(con)}
    assert found == {
        1: (kampala.isoformat(), True),
        2: ((lagos - dt.timedelta(days=1)).isoformat(), False),
    }


def _minimal_marts():
    """A warehouse with the two marts the page requires (one website, two days)."""
    from pipelines import duck

    con = duck.connect(":memory:")
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_websites as select 1 as website_id, 'Kampala' as website_name, "
        "'UGX' as currency, 'Africa/Kampala' as timezone"
    )
    figures = (
        "total_orders, gross_revenue, total_discount, unique_customers, new_customers, "
        "returning_customers, cancelled_orders, collected_revenue, refunds, vip_orders, "
        "subscription_orders"
    )
    zeros = ", ".join(f"0 as {c.strip()}" for c in figures.split(","))
    con.execute(
        f"create table marts.fct_daily_snapshot as select 1 as website_id, d as business_date, "
        f"{zeros} from (values (date '2026-04-08'), (date '2026-04-09')) as t(d)"
    )
    return con


def test_issue_17_views_are_absent_until_built_and_read_only_the_columns_they_have():
    """A mart not built is absent from the payload (its panel says so); a built one missing
    some of the columns the page reads publishes what it has; one missing a key column is
    treated as not built. Publishing never fails on them."""
    con = _minimal_marts()
    try:
        payload = collect(con)
        for key in ("subscriptions", "mrr_movements", "recent_orders", "kitchen_hours"):
            assert key not in payload
        assert payload["sources"]["subscriptions"] == "fct_subscriptions_daily"
        assert payload["sources"]["kitchen_hours"] == "fct_kitchen_hourly"
        # Built, without active_subscribers: the rest is published.
        con.execute(
            "create table marts.fct_subscriptions_daily as select 1 as website_id, "
            "date '2026-04-09' as business_date, 3 as active_subscriptions, 250.00 as mrr"
        )
        # Built without its key column `month`: treated as not built.
        con.execute("create table marts.fct_mrr_movements_monthly as select 1 as website_id")
        con.execute(
            "create table marts.fct_kitchen_hourly as select 1 as website_id, "
            "date '2026-04-09' as business_date, h as local_hour, 2 as orders_prepared "
            "from (values (9), (12)) as t(h)"
        )
        payload = collect(con)
        assert payload["subscriptions"] == {
            "cols": ["website_id", "business_date", "active_subscriptions", "mrr"],
            "rows": [[1, "2026-04-09", 3, 250.0]],
        }
        assert "mrr_movements" not in payload
        # The kitchen's hours are summed per website and period (the day: as_of alone).
        hours = payload["kitchen_hours"]
        assert [r for r in hours["rows"] if r[1] == "day"] == [[1, "day", 9, 2], [1, "day", 12, 2]]
    finally:
        con.close()


def test_recent_orders_keep_the_latest_of_each_website():
    from pipelines.publish.data import RECENT_ORDERS

    con = _minimal_marts()
    try:
        con.execute(
            "create table marts.fct_recent_orders as select i as order_id, 1 as website_id, "
            "date '2026-04-09' as business_date, "
            "timestamp '2026-04-09 08:00' + to_minutes(i) as local_time, 'delivered' as status "
            f"from range(1, {RECENT_ORDERS + 6}) as t(i)"
        )
        rows = collect(con)["recent_orders"]
        assert rows["cols"] == ["order_id", "website_id", "business_date", "local_time", "status"]
        ids = [r[0] for r in rows["rows"]]
        assert ids == list(range(RECENT_ORDERS + 5, 5, -1))
        assert rows["rows"][0][3] == "2026-04-09 08:25"
    finally:
        con.close()
