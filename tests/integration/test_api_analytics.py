"""Request 000's analytics views (`/api/v1/analytics/…`) over real HTTP: uvicorn on loopback,
httpx as the client.

One small business (two websites, UGX and NGN, 100 days) is built and published once for the
module. Every answer is compared with SQL written here on the published marts (not the
API's queries), to the cent; where the static dashboard shows the same figure, with
`pipelines.publish.data.collect` too. Then the permission matrix (roles × websites × these
views, and request 003's stored records), with a search of every body for the unseen
website's rows, and the 4xx answers to bad input.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import httpx
import pytest
from api_support import build_analytics_warehouse, make_tokens, publish_for_api, served

from pipelines import duck
from pipelines.api import state
from pipelines.publish import data
from pipelines.publish.version import publish_version
from pipelines.settings import Settings

API = "/api/v1/analytics"
LOYALTY = "/api/v1/loyalty-management/analytics"
CENT = Decimal("0.01")
PERIODS = {"day": 1, "week": 7, "month": 30, "year": 365}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("analytics")
    return publish_for_api(build_analytics_warehouse(root), root)


@pytest.fixture(scope="module")
def server(published):
    with served(published) as both:
        yield both


@pytest.fixture(scope="module")
def tokens(published):
    made = make_tokens(published, {"admin": ("admin", ()), "one": ("analyst", (1,)),
                                   "two": ("analyst", (2,)), "both": ("analyst", (1, 2))})
    engine = state.open_state(published.api_state)
    token, made["revoked"] = state.create_token(engine, "admin")
    state.revoke(engine, token.id)
    made["nobody"] = None
    return made


@pytest.fixture(scope="module")
def payload(published):
    """The static dashboard's payload, from the same published marts."""
    con = duck.connect(published.published_file, read_only=True)
    try:
        return data.collect(con)
    finally:
        con.close()


def get(server, path: str, token: str | None = None, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(server[0] + path, headers=headers, params=params, timeout=30)


def body(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json(parse_float=Decimal)


def sql(published: Settings, query: str, *params) -> list[tuple]:
    with duckdb.connect(str(published.published_file), read_only=True) as con:
        return con.execute(query, list(params)).fetchall()


def records(published: Settings, query: str, *params) -> list[dict]:
    with duckdb.connect(str(published.published_file), read_only=True) as con:
        cursor = con.execute(query, list(params))
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def iso(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}


def pct(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(CENT, ROUND_HALF_UP)


def span(published, website: int) -> tuple[dt.date, dt.date]:
    """(first date, as_of) of a website's daily snapshot."""
    return sql(
        published,
        "select min(business_date), max(business_date) from marts.fct_daily_snapshot "
        "where website_id = ?",
        website,
    )[0]


def window(as_of: dt.date, days: int) -> tuple[dt.date, dt.date, dt.date, dt.date]:
    start = as_of - dt.timedelta(days=days - 1)
    return start, as_of, start - dt.timedelta(days=days), start - dt.timedelta(days=1)


def block(answer: dict, website: int) -> dict:
    (found,) = [b for b in answer["websites"] if b["website"] == website]
    return found


# ---------------------------------------------------------------------------------------
# The dashboard


def test_exact_json_writes_decimals_as_they_are():
    from pipelines.api.deps import ExactJSON

    content = {"a": Decimal("64.00"), "b": [Decimal("-0.50"), Decimal("7"), 1.5, None],
               "c": "x\x00" + "1.00\x00", "d": "NGN", "e": True}
    text = ExactJSON(content).body.decode()
    assert text == ('{"a":64.00,"b":[-0.50,7,1.5,null],"c":"x\\u00001.00\\u0000",'
                    '"d":"NGN","e":true}')
    assert json.loads(text, parse_float=Decimal) == content
    # A text of the data that looks like a mark: the exact slow writer, the same answer.
    tricky = {"a": Decimal("1.50"), "t": "\x002.00\x00"}
    assert json.loads(ExactJSON(tricky).body, parse_float=Decimal) == tricky
    with pytest.raises(TypeError):
        ExactJSON({"date": dt.date(2026, 1, 1)})
    with pytest.raises(TypeError):
        ExactJSON({"nan": Decimal("NaN")})


def test_docs_list_the_views_and_their_models(server):
    spec = get(server, "/openapi.json").json()
    for path in ("dashboard", "revenue-streams", "customers", "campaigns",
                 "campaigns/{campaign_id}", "metrics"):
        operation = spec["paths"][f"{API}/{path}"]["get"]
        assert "$ref" in json.dumps(operation["responses"]["200"]), path
    assert {"Dashboard", "RevenueStreams", "Customers", "Campaigns", "CampaignDetail",
            "Metrics", "Cards", "DailyFigures", "ItemSales", "Campaign", "CampaignDay",
            "Cohort"} <= set(spec["components"]["schemas"])


def _shape(value: Any) -> Any:
    """A JSON document's keys, nested, without its values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return None


def test_every_answer_fits_its_documented_model(server, published, tokens):
    from pipelines.api import analytics

    (campaign_id,) = sql(published, "select min(campaign_id) from marts.fct_campaign_performance "
                         "where control_recipients > 0")[0]
    for path, params, model in (
        ("dashboard", {"period": "year"}, analytics.Dashboard),
        ("dashboard", {"period": "day"}, analytics.Dashboard),
        ("revenue-streams", {}, analytics.RevenueStreams),
        ("customers", {}, analytics.Customers),
        ("campaigns", {}, analytics.Campaigns),
        (f"campaigns/{campaign_id}", {}, analytics.CampaignDetail),
        ("metrics", {}, analytics.Metrics),
    ):
        document = body(get(server, f"{API}/{path}", tokens["admin"], **params))
        fitted = model.model_validate(document)
        # The model names every key of the answer, and nothing more.
        assert _shape(fitted.model_dump()) == _shape(document), path


@pytest.mark.parametrize("period", list(PERIODS))
@pytest.mark.parametrize("website", [1, 2])
def test_dashboard_cards_equal_the_marts(server, published, tokens, period, website):
    first, as_of = span(published, website)
    start, end, prev_from, prev_to = window(as_of, PERIODS[period])
    answer = body(get(server, f"{API}/dashboard", tokens["admin"], period=period,
                      website=website))
    assert answer["period"] == period and answer["days"] == PERIODS[period]
    (site,) = answer["websites"]
    currency = sql(published, "select currency from marts.dim_websites where website_id = ?",
                   website)[0][0]
    assert (site["website"], site["currency"], site["as_of"]) == (
        website, currency, as_of.isoformat())
    assert site["window"] == {"date_from": start.isoformat(), "date_to": end.isoformat()}
    assert site["previous_window"] == {"date_from": prev_from.isoformat(),
                                       "date_to": prev_to.isoformat()}

    def totals(lo, hi):
        (row,) = records(
            published,
            "select coalesce(sum(gross_revenue), 0) as revenue, "
            "coalesce(sum(total_orders), 0) as orders, "
            "coalesce(sum(total_discount), 0) as discount, "
            "coalesce(sum(new_customers), 0) as new_customers, "
            "coalesce(sum(collected_revenue), 0) as collected_revenue, "
            "coalesce(sum(refunds), 0) as refunds, "
            "coalesce(sum(cancelled_orders), 0) as cancelled_orders "
            "from marts.fct_daily_snapshot where website_id = ? and business_date between ? and ?",
            website, lo, hi,
        )
        (row["customers"],) = sql(
            published,
            "select count(distinct user_id) from marts.fct_customer_order_days "
            "where website_id = ? and business_date between ? and ?",
            website, lo, hi,
        )[0]
        row["average_order_value"] = (
            (row["revenue"] / row["orders"]).quantize(CENT, ROUND_HALF_UP) if row["orders"]
            else None
        )
        return row

    now, before = totals(start, end), totals(prev_from, prev_to)
    assert now["orders"] > 0
    assert set(site["cards"]) == set(now)
    for name, card in site["cards"].items():
        value, previous = now[name], before[name]
        change = None if value is None or previous is None else value - previous
        assert card == {
            "value": value, "previous": previous, "change": change,
            "change_pct": pct(change, abs(previous)) if previous else None,
        }, name
    if period == "year":  # the year before the data: nothing to compare with
        assert site["cards"]["revenue"]["change_pct"] is None
        assert site["acquisition"]["window_starts_before_data"] is True
    # Exact decimals in the text (2 places), never a float's digits.
    assert f'"value":{now["revenue"]:.2f},' in get(
        server, f"{API}/dashboard", tokens["admin"], period=period, website=website).text


@pytest.mark.parametrize("period", ["day", "week", "month", "year"])
def test_dashboard_trend_and_breakdowns_equal_the_marts(server, published, tokens, period):
    answer = body(get(server, f"{API}/dashboard", tokens["one"], period=period))
    (site,) = answer["websites"]
    first, as_of = span(published, 1)
    start, end, _, _ = window(as_of, PERIODS[period])
    between = "website_id = 1 and business_date between ? and ?"
    trend = records(
        published,
        "select business_date as date, total_orders, gross_revenue, total_discount, "
        "average_order_value, unique_customers, new_customers, returning_customers, "
        "cancelled_orders, collected_revenue, refunds, vip_orders, subscription_orders "
        f"from marts.fct_daily_snapshot where {between} order by business_date",
        start, end,
    )
    assert site["trend"] == [iso(r) for r in trend]
    assert len(trend) == min(PERIODS[period], (end - first).days + 1)

    statuses = records(
        published,
        "select status, order_count, total_amount, is_counted from marts.fct_order_status "
        f"where {between}", start, end,
    )
    by_status: dict[str, list] = {}
    for r in statuses:
        acc = by_status.setdefault(r["status"], [0, Decimal(0), r["is_counted"]])
        acc[0] += r["order_count"]
        acc[1] += r["total_amount"]
    all_orders = sum(v[0] for v in by_status.values())
    assert site["order_status"] == sorted(
        ({"status": k, "is_counted": v[2], "order_count": v[0], "total_amount": v[1],
          "share_of_orders_pct": pct(v[0], all_orders)} for k, v in by_status.items()),
        key=lambda r: (-r["order_count"], r["status"]),
    )
    (orders, revenue, discount) = sql(
        published,
        "select sum(total_orders), sum(gross_revenue), sum(total_discount) "
        f"from marts.fct_daily_snapshot where {between}", start, end,
    )[0]
    methods = sql(
        published,
        "select payment_method, payment_method_group, sum(order_count), sum(gross_revenue) "
        f"from marts.fct_payment_methods where {between} group by 1, 2", start, end,
    )
    assert site["payment_methods"] == sorted(
        ({"payment_method": m, "payment_method_group": g, "order_count": n,
          "gross_revenue": r, "share_of_orders_pct": pct(n, orders)} for m, g, n, r in methods),
        key=lambda r: (-r["order_count"], r["payment_method"]),
    )
    assert sum(m["order_count"] for m in site["payment_methods"]) == orders

    items = sql(
        published,
        "select meal_id, max(meal_name), max(category), sum(quantity_sold), sum(order_count), "
        f"sum(line_total) from marts.fct_item_sales where {between} group by meal_id",
        start, end,
    )
    top = sorted(items, key=lambda r: (-r[3], r[0]))[:10]
    assert site["top_items"] == [
        {"meal_id": i, "meal_name": n, "category": c, "quantity_sold": q, "order_count": o,
         "line_total": t}
        for i, n, c, q, o, t in top
    ]
    discounts = sql(
        published,
        "select discount_type, sum(order_count), sum(discount_total) "
        f"from marts.fct_discounts where {between} group by 1", start, end,
    )
    assert site["discounts"] == {
        "total": discount,
        "share_of_gross_revenue_pct": pct(discount, revenue),
        "by_type": sorted(
            ({"discount_type": k, "order_count": n, "discount_total": t,
              "share_of_gross_revenue_pct": pct(t, revenue)} for k, n, t in discounts),
            key=lambda r: (-r["discount_total"], r["discount_type"]),
        ),
    }
    # Acquisition vs retention: the new ones add up over the days; the returning ones are
    # the distinct customers who ordered in the window on a day after their first order day.
    (new, daily_returning) = sql(
        published,
        "select sum(new_customers), sum(returning_customers) from marts.fct_daily_snapshot "
        f"where {between}", start, end,
    )[0]
    (returning,) = sql(
        published,
        """
        select count(*) from (
            select user_id from marts.fct_customer_order_days as days
            where website_id = 1 and business_date between ? and ?
                and business_date > (
                    select min(first.business_date) from marts.fct_customer_order_days as first
                    where first.website_id = 1 and first.user_id = days.user_id)
            group by user_id)
        """,
        start, end,
    )[0]
    assert site["acquisition"] == {
        "new_customers": new,
        "returning_customers": returning,
        "new_share_of_daily_customers_pct": pct(new, new + daily_returning),
        "window_starts_before_data": start < first,
    }
    assert returning > 0


@pytest.mark.parametrize("period", list(PERIODS))
def test_dashboard_agrees_with_the_static_dashboard(server, tokens, payload, period):
    answer = body(get(server, f"{API}/dashboard", tokens["admin"], period=period))
    assert [b["website"] for b in answer["websites"]] == [w["id"] for w in payload["websites"]]
    cols = payload["daily"]["cols"]
    daily = [dict(zip(cols, row, strict=True)) for row in payload["daily"]["rows"]]
    for site in answer["websites"]:
        start, end = site["window"]["date_from"], site["window"]["date_to"]
        mine = [r for r in daily if r["website_id"] == site["website"]
                and start <= r["business_date"] <= end]
        cards = site["cards"]
        assert round(sum(r["gross_revenue"] for r in mine), 2) == float(cards["revenue"]["value"])
        assert sum(r["total_orders"] for r in mine) == cards["orders"]["value"]
        figures = payload["windows"][f"{site['website']}|{period}"]
        assert (figures["customers"], figures["customers_prev"]) == (
            cards["customers"]["value"], cards["customers"]["previous"])
        assert figures["returning"] == site["acquisition"]["returning_customers"]


def test_dashboard_without_website_has_one_block_per_website_in_scope(server, published, tokens):
    admin = body(get(server, f"{API}/dashboard", tokens["admin"], period="week"))
    currencies = dict(sql(published, "select website_id, currency from marts.dim_websites"))
    assert [(b["website"], b["currency"]) for b in admin["websites"]] == sorted(
        currencies.items())
    for site in admin["websites"]:
        alone = body(get(server, f"{API}/dashboard", tokens["admin"], period="week",
                         website=site["website"]))
        assert alone["websites"] == [site]
    both = body(get(server, f"{API}/dashboard", tokens["both"], period="week"))
    assert both == admin
    one = body(get(server, f"{API}/dashboard", tokens["one"], period="week"))
    assert one["websites"] == admin["websites"][:1]


# ---------------------------------------------------------------------------------------
# Revenue streams


def _streams_expected(published, website: int, start: dt.date, end: dt.date) -> list[dict]:
    rows = sql(
        published,
        "select channel, kind, strftime(business_date, '%Y-%m-01') as month, sum(amount), "
        "sum(transaction_count) from marts.fct_revenue_by_channel "
        "where website_id = ? and business_date between ? and ? group by 1, 2, 3",
        website, start, end,
    )
    channels: dict[str, dict] = {}
    for channel, kind, month, amount, count in sorted(rows):
        c = channels.setdefault(channel, {"channel": channel, "kind": kind, "amount": 0,
                                          "transaction_count": 0, "monthly": []})
        c["amount"] += amount
        c["transaction_count"] += count
        c["monthly"].append({"month": month, "amount": amount, "transaction_count": count})
    return sorted(channels.values(), key=lambda c: (-c["amount"], c["channel"]))


@pytest.mark.parametrize("website", [1, 2])
def test_revenue_streams_default_to_the_last_30_days(server, published, tokens, payload,
                                                     website):
    _, as_of = span(published, website)
    start = as_of - dt.timedelta(days=29)
    answer = body(get(server, f"{API}/revenue-streams", tokens["admin"], website=website))
    (site,) = answer["websites"]
    assert (site["date_from"], site["date_to"]) == (start.isoformat(), as_of.isoformat())
    expected = _streams_expected(published, website, start, as_of)
    assert site["channels"] == expected
    assert len(expected) == 7 and expected[0]["amount"] > 0
    revenue = sum(c["amount"] for c in expected if c["kind"] == "revenue")
    incentives = sum(c["amount"] for c in expected if c["kind"] == "incentive")
    assert site["totals"] == {"revenue": revenue, "incentives": incentives,
                              "net": revenue - incentives}
    # The static dashboard's channels panel (its month is the same 30 days).
    cols = payload["channels"]["cols"]
    static: dict[str, float] = {}
    for row in payload["channels"]["rows"]:
        r = dict(zip(cols, row, strict=True))
        if r["website_id"] == website and start.isoformat() <= r["business_date"]:
            static[r["channel"]] = static.get(r["channel"], 0) + r["amount"]
    for channel in site["channels"]:
        assert round(static.get(channel["channel"], 0), 2) == float(channel["amount"])


def test_revenue_streams_of_a_range_and_its_months(server, published, tokens):
    first, as_of = span(published, 1)
    start, end = first + dt.timedelta(days=10), as_of - dt.timedelta(days=5)
    answer = body(get(server, f"{API}/revenue-streams", tokens["one"],
                      date_from=start.isoformat(), date_to=end.isoformat()))
    (site,) = answer["websites"]
    assert site["channels"] == _streams_expected(published, 1, start, end)
    months = site["months"]
    assert months[0]["date_from"] == start.isoformat() and months[0]["complete"] is False
    assert months[-1]["date_to"] == end.isoformat()
    assert [m["month"] for m in months] == sorted(
        {c["month"] for ch in site["channels"] for c in ch["monthly"]})
    inner = months[1:-1]
    assert inner and all(m["complete"] for m in inner)
    assert all(m["date_from"] == m["month"] for m in inner)


def test_revenue_streams_default_window_starts_no_earlier_than_the_data(server, published,
                                                                         tokens):
    first, _ = span(published, 2)
    end = first + dt.timedelta(days=5)
    (site,) = body(get(server, f"{API}/revenue-streams", tokens["two"],
                       date_to=end.isoformat()))["websites"]
    assert (site["date_from"], site["date_to"]) == (first.isoformat(), end.isoformat())
    assert site["channels"] == _streams_expected(published, 2, first, end)
    refused = get(server, f"{API}/revenue-streams", tokens["two"],
                  date_from=(first - dt.timedelta(days=1)).isoformat())
    assert refused.status_code == 400 and str(first) in refused.json()["detail"]


# ---------------------------------------------------------------------------------------
# Customers


@pytest.mark.parametrize("website", [1, 2])
def test_customers_equal_the_marts(server, published, tokens, payload, website):
    site = block(body(get(server, f"{API}/customers", tokens["both"])), website)
    (rates,) = records(published, "select * from marts.fct_customer_rates where website_id = ?",
                       website)
    assert (site["customers"], site["ordering_customers"]) == (
        rates["customers"], rates["ordering_customers"])
    (at_risk, repeat, ordering) = sql(
        published,
        "select count(*) filter (where churn_risk), count(*) filter (where total_orders >= 2), "
        "count(*) filter (where total_orders >= 1) from marts.dim_customers where website_id = ?",
        website,
    )[0]
    assert site["churn_risk"] == {"customers": at_risk, "churn_rate": pct(at_risk, ordering)}
    assert site["repeat_purchase"] == {"customers": repeat,
                                       "repeat_purchase_rate": pct(repeat, ordering)}
    tiers = sql(
        published,
        "select coalesce(vip_tier_current, 'none'), count(*) from marts.dim_customers "
        "where website_id = ? group by 1", website,
    )
    assert site["vip_tiers"] == [{"vip_tier": t, "customers": n}
                                 for t, n in sorted(tiers, key=lambda r: (-r[1], r[0]))]
    bands = sql(
        published,
        "select ltv_segment, min(ltv_segment_order), count(*) from marts.dim_customers "
        "where website_id = ? group by 1 order by 2", website,
    )
    assert site["ltv_segments"] == [{"ltv_segment": s, "order": o, "customers": n}
                                    for s, o, n in bands]
    stages = sql(
        published,
        "select lifecycle_stage, count(*) from marts.dim_customers where website_id = ? "
        "group by 1", website,
    )
    assert site["lifecycle_stages"] == [{"lifecycle_stage": s, "customers": n}
                                        for s, n in sorted(stages, key=lambda r: (-r[1], r[0]))]
    cohorts = records(
        published,
        "select cohort_month, month_number, cohort_size, active_customers, retention_rate, "
        "is_partial_month from marts.fct_customer_cohorts where website_id = ? order by 1, 2",
        website,
    )
    assert site["retention"] == [iso(r) for r in cohorts] and cohorts
    # The seed's bands of the website's currency: UGX 0-10K…, NGN 0-30K…
    assert [b["ltv_segment"] for b in site["ltv_segments"]] == (
        ["0-10K", "10-50K", "50K+"] if website == 1 else ["0-30K", "30-150K", "150K+"])
    # Counts, never people: no user id, no name, no contact anywhere.
    text = json.dumps(site, default=str)
    assert "user_id" not in text and "email" not in text and "phone" not in text
    # The static dashboard's panels agree.
    static = {
        key: [dict(zip(payload[key]["cols"], row, strict=True)) for row in payload[key]["rows"]
              if row[payload[key]["cols"].index("website_id")] == website]
        for key in ("vip_tiers", "ltv_segments", "rates")
    }
    assert {r["vip_tier"]: r["customers"] for r in static["vip_tiers"]} == {
        t["vip_tier"]: t["customers"] for t in site["vip_tiers"]}
    assert {r["ltv_segment"]: r["customers"] for r in static["ltv_segments"]} == {
        s["ltv_segment"]: s["customers"] for s in site["ltv_segments"]}
    assert static["rates"][0]["at_risk_customers"] == site["churn_risk"]["customers"]


def test_some_customers_are_at_churn_risk(server, tokens):
    """The business is long enough (100 days) for the churn count not to be a trivial 0."""
    site = block(body(get(server, f"{API}/customers", tokens["admin"])), 1)
    assert site["churn_risk"]["customers"] > 0


# ---------------------------------------------------------------------------------------
# Campaigns


@pytest.mark.parametrize("status", [None, "draft", "active", "paused", "completed"])
def test_campaigns_equal_the_marts(server, published, tokens, payload, status):
    params = {} if status is None else {"status": status}
    answer = body(get(server, f"{API}/campaigns", tokens["admin"], **params))
    assert answer["status"] == status
    for site in answer["websites"]:
        rows = records(
            published,
            "select * exclude (website_id) from marts.fct_campaign_performance "
            "where website_id = ? order by campaign_id", site["website"],
        )
        rows = [iso(r) for r in rows if status is None or r["status"] == status]
        assert site["campaigns"] == rows  # every column, the true-effect ones included
        budgets = [r["budget"] for r in rows if r["budget"] is not None]
        assert site["total_budget"] == (sum(budgets) if budgets else None)
        assert site["campaign_count"] == len(rows)
    if status is None:  # the static dashboard lists the same campaigns
        ids = {r[payload["campaigns"]["cols"].index("campaign_id")]
               for r in payload["campaigns"]["rows"]}
        assert ids == {c["campaign_id"] for s in answer["websites"] for c in s["campaigns"]}


def test_total_budget_is_per_website_and_currency(server, published, tokens):
    answer = body(get(server, f"{API}/campaigns", tokens["admin"]))
    expected = sql(
        published,
        "select c.website_id, w.currency, sum(c.budget) from marts.fct_campaign_performance c "
        "join marts.dim_websites w using (website_id) group by 1, 2 order by 1",
    )
    assert [(s["website"], s["currency"], s["total_budget"]) for s in answer["websites"]] \
        == expected
    # A campaign without a budget adds nothing; only such campaigns: no total (NULL).
    unbudgeted = sql(
        published,
        "select website_id, status from marts.fct_campaign_performance "
        "group by all having count(budget) = 0",
    )
    for website, status in unbudgeted:
        site = block(body(get(server, f"{API}/campaigns", tokens["admin"], status=status)),
                     website)
        assert site["total_budget"] is None and site["campaigns"]


def test_campaign_detail_equals_the_marts(server, published, tokens):
    ids = sql(
        published,
        "select campaign_id, website_id from marts.fct_campaign_performance "
        "where control_recipients > 0 order by campaign_id",
    )
    assert ids
    for campaign_id, website in ids:
        answer = body(get(server, f"{API}/campaigns/{campaign_id}", tokens["admin"]))
        (row,) = records(
            published,
            "select * exclude (website_id) from marts.fct_campaign_performance "
            "where campaign_id = ?", campaign_id,
        )
        assert answer["website"] == website and answer["campaign"] == iso(row)
        history = records(
            published,
            "select business_date as date, orders_influenced, revenue_generated, campaign_cost, "
            "recipients_sent, cumulative_cost, budget_used, is_over_budget "
            "from marts.fct_campaign_days where campaign_id = ? order by business_date",
            campaign_id,
        )
        assert answer["history"] == [iso(r) for r in history] and history
        assert sum(h["campaign_cost"] for h in answer["history"]) == row["campaign_cost"]
        variants = records(
            published,
            "select * exclude (campaign_id, website_id) from marts.fct_campaign_variants "
            "where campaign_id = ? order by variant", campaign_id,
        )
        # z_score and p_value are the marts' doubles, written as Python writes a float.
        assert answer["variants"] == [
            {k: Decimal(repr(v)) if isinstance(v, float) else v for k, v in r.items()}
            for r in variants
        ]
        assert {"A", "control"} <= {v["variant"] for v in answer["variants"]}
        channels = records(
            published,
            "select * exclude (campaign_id, website_id) from marts.fct_campaign_channels "
            "where campaign_id = ? order by channel nulls last", campaign_id,
        )
        assert answer["channels"] == channels


# ---------------------------------------------------------------------------------------
# Metrics


def test_metrics_equal_the_marts(server, published, tokens):
    answer = body(get(server, f"{API}/metrics", tokens["admin"]))
    assert [s["website"] for s in answer["websites"]] == [1, 2]
    for site in answer["websites"]:
        website = site["website"]
        _, as_of = span(published, website)
        assert site["as_of"] == as_of.isoformat()
        (snapshot,) = records(
            published,
            "select * exclude (website_id, business_date) from marts.fct_daily_snapshot "
            "where website_id = ? and business_date = ?", website, as_of,
        )
        assert site["snapshot"] == snapshot
        (loyalty,) = records(
            published,
            "select points_balance, active_clients, points_issued, points_redeemed "
            "from marts.fct_loyalty_points_daily where website_id = ? and business_date = ?",
            website, as_of,
        )
        assert site["loyalty"] == loyalty
        (subscriptions,) = records(
            published,
            "select active_subscriptions, active_subscribers, mrr "
            "from marts.fct_subscriptions_daily where website_id = ? and business_date = ?",
            website, as_of,
        )
        assert site["subscriptions"] == subscriptions
        (rates,) = records(
            published,
            "select customers, ordering_customers, at_risk_customers, churn_rate, "
            "repeat_purchase_rate from marts.fct_customer_rates where website_id = ?", website,
        )
        assert site["customers"] == rates
        statuses = dict(sql(
            published,
            "select status, count(*) from marts.fct_campaign_performance where website_id = ? "
            "group by 1", website,
        ))
        assert site["campaigns"] == {s: statuses.get(s, 0)
                                     for s in ("draft", "active", "paused", "completed")}


# ---------------------------------------------------------------------------------------
# Permissions

#: Each view, read with and without ?website=.
VIEWS = ["dashboard", "revenue-streams", "customers", "campaigns", "metrics"]
SEES = {"admin": (1, 2), "one": (1,), "two": (2,), "both": (1, 2)}


def _seen(value: Any, key: str) -> set:
    """Every value of `key` anywhere in a JSON document."""
    found: set = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                found.add(v)
            found |= _seen(v, key)
    elif isinstance(value, list):
        for v in value:
            found |= _seen(v, key)
    return found


@pytest.fixture(scope="module")
def owned(published):
    """Per website: its currency, name, campaign ids and meal ids (to find them in bodies)."""
    out = {}
    for website, currency, name in sql(
        published, "select website_id, currency, website_name from marts.dim_websites"
    ):
        campaigns = {r[0] for r in sql(
            published, "select campaign_id from marts.fct_campaign_performance "
            "where website_id = ?", website)}
        meals = {r[0] for r in sql(
            published, "select distinct meal_id from marts.fct_item_sales where website_id = ?",
            website)}
        out[website] = {"currency": currency, "name": name, "campaigns": campaigns,
                        "meals": meals}
    assert out[1]["currency"] != out[2]["currency"] and not out[1]["meals"] & out[2]["meals"]
    return out


@pytest.mark.parametrize(
    ("who", "website", "status"),
    [
        ("admin", 1, 200), ("admin", 2, 200), ("admin", None, 200),
        ("one", 1, 200), ("one", 2, 404), ("one", None, 200),
        ("two", 1, 404), ("two", 2, 200), ("two", None, 200),
        ("both", 1, 200), ("both", 2, 200), ("both", None, 200),
        ("revoked", 1, 401), ("revoked", None, 401), ("nobody", 1, 401), ("nobody", None, 401),
    ],
)
def test_the_permission_matrix_of_the_views(server, tokens, owned, who, website, status):
    params = {} if website is None else {"website": website}
    visible = SEES.get(who, ()) if website is None else (website,)
    for view in VIEWS:
        answer = get(server, f"{API}/{view}", tokens[who], **params)
        assert answer.status_code == status, (view, answer.text)
        if status == 404:
            assert answer.json() == {"detail": f"no website {website}"}
        if status != 200:
            continue
        document = answer.json()
        assert [b["website"] for b in document["websites"]] == list(visible), view
        assert _seen(document, "website") <= set(visible)
        assert _seen(document, "website_id") <= set(visible)
        for other in {1, 2} - set(visible):
            assert owned[other]["currency"] not in answer.text, view
            assert owned[other]["name"] not in answer.text, view
            assert not _seen(document, "campaign_id") & owned[other]["campaigns"], view
            assert not _seen(document, "meal_id") & owned[other]["meals"], view


@pytest.mark.parametrize("who", ["admin", "one", "two", "both", "revoked", "nobody"])
def test_the_permission_matrix_of_campaign_detail(server, tokens, owned, who):
    for website in (1, 2):
        for campaign_id in sorted(owned[website]["campaigns"]):
            answer = get(server, f"{API}/campaigns/{campaign_id}", tokens[who])
            if who in ("revoked", "nobody"):
                assert answer.status_code == 401
            elif website in SEES[who]:
                assert answer.status_code == 200 and answer.json()["website"] == website
                assert owned[3 - website]["currency"] not in answer.text
            else:  # exactly as a campaign that does not exist
                assert answer.status_code == 404
                assert answer.json() == {"detail": f"no campaign {campaign_id}"}
    missing = get(server, f"{API}/campaigns/999999", tokens["admin"])
    assert missing.status_code == 404 and missing.json() == {"detail": "no campaign 999999"}


def _post(server, path: str, token: str | None, payload: dict) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server[0] + path, headers=headers, json=payload, timeout=30)


@pytest.mark.parametrize(
    ("who", "website", "status"),
    [
        ("admin", 1, 200), ("admin", 2, 200), ("admin", None, 400),
        ("one", 1, 200), ("one", 2, 404), ("one", None, 200),
        ("two", 1, 404), ("two", 2, 200), ("two", None, 200),
        ("both", 1, 200), ("both", 2, 200), ("both", None, 400),
        ("revoked", 1, 401), ("nobody", 1, 401),
    ],
)
def test_the_permission_matrix_of_the_stored_records(server, published, tokens, who, website,
                                                     status):
    """Request 003's `POST analytics/calculate/`, `GET analytics/` and `analytics/{id}/`
    (pipelines/api/records.py) for each role and website."""
    admin = tokens["admin"]
    _, as_of = span(published, 2)
    window = {"date_from": (as_of - dt.timedelta(days=14)).isoformat(),
              "date_to": as_of.isoformat()}
    stored = {w: _post(server, f"{LOYALTY}/calculate/", admin, {**window, "website": w}).json()
              for w in (1, 2)}
    payload = window if website is None else {**window, "website": website}
    answer = _post(server, f"{LOYALTY}/calculate/", tokens[who], payload)
    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.json()["id"] == stored[answer.json()["website"]]["id"]
    listed = get(server, f"{LOYALTY}/", tokens[who])
    if who in ("revoked", "nobody"):
        assert listed.status_code == 401
        for record in stored.values():
            assert get(server, f"{LOYALTY}/{record['id']}/", tokens[who]).status_code == 401
        return
    assert {r["website"] for r in listed.json()} <= set(SEES[who])
    assert {r["id"] for r in listed.json()} >= {stored[w]["id"] for w in SEES[who]}
    for w, record in stored.items():
        one = get(server, f"{LOYALTY}/{record['id']}/", tokens[who])
        if w in SEES[who]:
            assert one.status_code == 200 and one.json()["id"] == record["id"]
        else:
            assert one.status_code == 404 and one.json() == {
                "detail": f"no analytics record {record['id']}"}


# ---------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("dashboard", {"period": "quarter"}, 422),
        ("dashboard", {"period": ""}, 422),
        ("dashboard", {"website": 0}, 422),
        ("dashboard", {"website": "x"}, 422),
        ("dashboard", {"website": 99}, 404),
        ("revenue-streams", {"date_from": "2026-05-10", "date_to": "2026-05-01"}, 400),
        ("revenue-streams", {"date_from": "2026-07-01"}, 400),  # after as_of (to)
        ("revenue-streams", {"date_to": "2027-01-01"}, 400),
        ("revenue-streams", {"date_from": "2025-01-01", "website": 1}, 400),
        ("revenue-streams", {"date_from": "2026-02-30"}, 422),
        ("revenue-streams", {"date_to": "yesterday"}, 422),
        ("customers", {"website": -1}, 422),
        ("campaigns", {"status": "archived"}, 422),
        ("campaigns", {"status": "ACTIVE"}, 422),
        ("campaigns/abc", {}, 422),
        ("campaigns/0", {}, 422),
        ("campaigns/1.5", {}, 422),
        ("campaigns/999999", {}, 404),
        ("metrics", {"website": 3}, 404),
    ],
)
def test_bad_input_is_a_4xx_with_a_message(server, tokens, path, params, status):
    answer = get(server, f"{API}/{path}", tokens["admin"], **params)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]


# ---------------------------------------------------------------------------------------
# The version cache, and a publication that lacks a mart


def test_the_version_cache_is_bounded_and_skips_an_unversioned_catalog():
    from pipelines.api.analytics import VersionCache

    cache = VersionCache(size=2)
    cache.put("v1", (1, "month"), {"customers": 1})
    cache.put("v1", (2, "month"), {"customers": 2})
    assert cache.get("v1", (1, "month")) == {"customers": 1}  # now the most recent
    cache.put("v2", (1, "month"), {"customers": 3})
    assert cache.get("v1", (2, "month")) is None  # the least recently used went
    assert cache.get("v1", (1, "month")) == {"customers": 1}
    assert cache.get("v2", (1, "month")) == {"customers": 3}
    cache.put("unversioned", (1, "month"), {"customers": 4})
    assert cache.get("unversioned", (1, "month")) is None


def test_a_new_publication_is_read_by_the_dashboard(server, published, tokens):
    from pipelines.api.analytics import CUSTOMER_COUNTS

    before = get(server, f"{API}/dashboard", tokens["one"], period="week")
    record = publish_version(published.warehouse, published.publish_folder)
    server[1].state.catalog.settle()
    after = get(server, f"{API}/dashboard", tokens["one"], period="week")
    assert after.headers["x-mealytics-version"] == record["version"] != before.headers[
        "x-mealytics-version"]
    assert after.json() == before.json()  # the same marts, published again
    site = before.json()["websites"][0]
    assert CUSTOMER_COUNTS.get(record["version"], (1, "week")) == {
        "customers": site["cards"]["customers"]["value"],
        "customers_prev": site["cards"]["customers"]["previous"],
        "returning": site["acquisition"]["returning_customers"],
    }


def test_a_mart_missing_from_the_publication_is_a_503_not_a_500():
    from fastapi import HTTPException

    from pipelines.api import analytics
    from pipelines.api.catalog import Reading

    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.dim_websites as select 1::bigint as website_id, "
                "'W' as website_name, 'UGX' as currency")
    con.execute("create table marts.fct_daily_snapshot as select 1::bigint as website_id, "
                "date '2026-01-01' as business_date")
    admin = state.Token(1, "admin", (), dt.datetime.now(dt.UTC))
    with pytest.raises(HTTPException) as raised:
        analytics.customers(admin, Reading("v", con), None)
    assert raised.value.status_code == 503 and "fct_customer_rates" in raised.value.detail
    con.close()


def test_no_personal_data_in_any_view(server, published, tokens):
    """No customer's email, phone or full name (the source's accounts_user) in any answer."""
    import sqlite3

    source = published.warehouse.parent / "operational.db"
    with sqlite3.connect(source) as con:
        people = con.execute(
            "select email, phone, first_name || ' ' || last_name from accounts_user"
        ).fetchall()
    personal = {value for row in people for value in row if value}
    assert len(personal) > 300
    campaign_ids = [r[0] for r in sql(published, "select campaign_id from "
                                                 "marts.fct_campaign_performance")]
    paths = [*(f"dashboard?period={p}" for p in PERIODS), "revenue-streams", "customers",
             "campaigns", "metrics", *(f"campaigns/{i}" for i in campaign_ids)]
    for path in paths:
        answer = httpx.get(f"{server[0]}{API}/{path}", timeout=30,
                           headers={"Authorization": f"Bearer {tokens['admin']}"})
        assert answer.status_code == 200, path
        found = [value for value in personal if value in answer.text]
        assert not found, (path, found[:3])
