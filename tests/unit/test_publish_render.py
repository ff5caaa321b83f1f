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
    "name", ["</script><script>alert(1)</script>", "<!-- a", "Fish & chips", "Ugali & \"greens\""]
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
