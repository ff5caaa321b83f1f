"""The live dashboard (`/dashboard`) and its payload endpoint, over real HTTP (uvicorn on
loopback, httpx) and in a real headless Chromium (tests/cdp.py).

One small business (two websites, two currencies: the static dashboard's test data, every
mart built) is built, published, and served. The payload must equal `publish.data.collect`
on the published version, filtered here by hand for an analyst (not one byte of the other
website), be computed once per version and follow a new publication. On the page: no token
or a refused one shows a message and no data; the stored widgets decide the panels (visible
ones, in position order); every figure of every panel, for a date range picked on the page,
equals SQL on the marts (the static dashboard's own checks, `test_publish.expected_charts`,
run on the range), for an admin and for an analyst who sees only its website.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest
from api_support import make_tokens, publish_for_api, served
from cdp import CHROMIUM, Chromium
from test_publish import (  # the static dashboard's data and checks, reused on a range
    AS_OF,
    CENT,
    DATED_ORDERS,
    READ_CHARTS,
    Shown,
    expected_charts,
    fmt_int,
    js_number,
    money,
    r2,
    warehouse,  # noqa: F401 (the module's fixture: the business, every mart built)
)

from pipelines import duck
from pipelines.api import state
from pipelines.api.dashboard import NAME_QUERIES, PAYLOAD_PATH, scoped
from pipelines.publish import data
from pipelines.publish.version import current_version, publish_version
from pipelines.settings import Settings

WIDGETS = "/api/v1/loyalty-management/dashboard-widgets/"
#: The range picked on the page: inside the data, shorter than 62 days (every point drawn
#: is checked), ending in the month of AS_OF (the MRR table's "(to date)" month).
LO, HI = dt.date(2026, 3, 12), dt.date(2026, 4, 6)


@pytest.fixture(scope="module")
def published(warehouse, tmp_path_factory):  # noqa: F811
    return publish_for_api(warehouse, tmp_path_factory.mktemp("dash"))


@pytest.fixture(scope="module")
def server(published):
    with served(published) as both:
        yield both


@pytest.fixture(scope="module")
def tokens(published):
    return make_tokens(published, {"admin": ("admin", ()), "one": ("analyst", (1,))})


def get(server, path: str, token: str | None = None, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(server[0] + path, headers=headers, params=params, timeout=60)


def collected(published: Settings) -> dict:
    """`collect` on the current published version, with the per-website name tables, as JSON
    gives it back (generated_at left out)."""
    with duck.connect(published.published_file, read_only=True) as con:
        payload = data.collect(con)
        for key, sql in NAME_QUERIES.values():
            payload[key] = data._table(con, sql)
    payload.pop("generated_at")
    return json.loads(json.dumps(payload))


def answered(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    payload = response.json()
    payload.pop("generated_at")
    return payload


# --- the payload endpoint -----------------------------------------------------------------------


def test_the_page_needs_no_token_and_carries_no_data(server):
    answer = get(server, "/dashboard")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert '<script id="payload" type="application/json">null</script>' in answer.text
    assert "connect-src 'self'" in answer.headers["content-security-policy"]
    assert "Mealytics Lagos" not in answer.text and "Mealytics Kampala" not in answer.text


@pytest.mark.parametrize("header", [None, "Bearer mly_not-a-token", "Basic abc"])
def test_the_payload_needs_a_valid_token(server, header):
    headers = {"Authorization": header} if header else {}
    answer = httpx.get(server[0] + PAYLOAD_PATH, headers=headers, timeout=30)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_the_admin_payload_is_collect(server, published, tokens):
    answer = get(server, PAYLOAD_PATH, tokens["admin"])
    assert answered(answer) == collected(published)
    assert answer.headers["x-mealytics-version"]


def by_hand(payload: dict, website: int) -> dict:
    """`payload` for a token of `website`, filtered here: tables with website_id keep its
    rows, tables without are left out, windows and websites keep its own."""
    out = {}
    for key, value in payload.items():
        if key == "websites":
            out[key] = [w for w in value if w["id"] == website]
        elif key == "windows":
            out[key] = {k: v for k, v in value.items() if k.startswith(f"{website}|")}
        elif isinstance(value, dict) and "cols" in value:
            if "website_id" in value["cols"]:
                at = value["cols"].index("website_id")
                out[key] = {
                    "cols": value["cols"],
                    "rows": [r for r in value["rows"] if r[at] == website],
                }
        else:
            out[key] = value
    return out


def test_an_analyst_payload_is_collect_filtered_to_its_website(server, published, tokens):
    answer = get(server, PAYLOAD_PATH, tokens["one"])
    full = collected(published)
    assert answered(answer) == by_hand(full, 1)
    # Not a byte of the other website: its name, its currency, a row of it.
    assert "Mealytics Lagos" not in answer.text and "NGN" not in answer.text
    mine = answer.json()
    for key, value in mine.items():
        if isinstance(value, dict) and "cols" in value:
            at = value["cols"].index("website_id")
            assert {r[at] for r in value["rows"]} <= {1}, key
    assert all(k.startswith("1|") for k in mine["windows"])
    # What collect gives without a website (the names) is not there; the per-website names are.
    assert "meal_names" in full and "meal_names" not in mine
    assert "redemption_item_names" not in mine and mine["website_meal_names"]["rows"]


def test_a_table_without_website_id_never_reaches_a_scoped_token():
    payload = {
        "generated_at": "x",
        "periods": {"day": 1},
        "websites": [{"id": 1}, {"id": 2}],
        "windows": {"1|day": {"customers": 1}, "2|day": {"customers": 2}, "x|day": {}},
        "daily": {"cols": ["website_id", "v"], "rows": [[1, 10], [2, 20]]},
        "catalog": {"cols": ["meal_id", "name"], "rows": [[1, "secret of 2"]]},
        "something_new": [{"website_id": 2}],
        "also_new": "text of 2",
    }
    for websites in ((1,), (1, 3)):
        mine = scoped(payload, websites)
        assert mine == {
            "generated_at": "x",
            "periods": {"day": 1},
            "websites": [{"id": 1}],
            "windows": {"1|day": {"customers": 1}},
            "daily": {"cols": ["website_id", "v"], "rows": [[1, 10]]},
        }
    assert scoped(payload, ()) is payload  # every website: as it is


def test_the_payload_is_computed_once_per_version_and_follows_a_publication(
    server, published, warehouse, tokens  # noqa: F811
):
    url, app = server
    first = get(server, PAYLOAD_PATH, tokens["admin"])
    cache = app.state.dashboard_cache
    computed = cache.computed
    again = get(server, PAYLOAD_PATH, tokens["one"])
    assert cache.computed == computed  # the analyst's is the same payload, filtered
    assert again.headers["x-mealytics-version"] == first.headers["x-mealytics-version"]
    assert again.json()["generated_at"] == first.json()["generated_at"]

    publish_version(warehouse, published.publish_dir)
    app.state.catalog.settle()  # warmed: the new version's payload computed before it is read
    newer = get(server, PAYLOAD_PATH, tokens["admin"])
    assert newer.status_code == 200
    assert newer.headers["x-mealytics-version"] != first.headers["x-mealytics-version"]
    assert cache.computed == computed + 1
    assert cache.versions() == {newer.headers["x-mealytics-version"]}  # the old one dropped
    assert answered(newer) == collected(published)


def test_a_range_gets_its_own_window_figures(server, published, warehouse, tokens):  # noqa: F811
    answer = get(server, PAYLOAD_PATH, tokens["admin"], date_from=LO, date_to=HI)
    figures = answer.json()["windows"]
    key = f"{LO}..{HI}"
    days = (HI - LO).days + 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for website in (1, 2):
            [(now, before)] = con.execute(
                f"""
                select count(distinct user_id) filter (where created_date between $1 and $2),
                    count(distinct user_id) filter (where created_date between $3 and $4)
                from {DATED_ORDERS} as o where status <> 'cancelled' and website_id = $5""",
                [LO, HI, LO - dt.timedelta(days=days), LO - dt.timedelta(days=1), website],
            ).fetchall()
            assert figures[f"{website}|{key}"]["customers"] == now
            assert figures[f"{website}|{key}"]["customers_prev"] == before
            [engagement] = con.execute(
                "select total_clients, clients_with_transactions from "
                "marts.loyalty_engagement_stats(?, days := ?, website := ?)",
                [HI, days, website],
            ).fetchall()
            shown = figures[f"{website}|{key}"]["engagement"]
            assert (shown["total_clients"], shown["clients_with_transactions"]) == engagement
    hours = answer.json()["kitchen_hours"]
    assert any(row[1] == key for row in hours["rows"])


def test_a_long_window_widens_the_history(server, tokens):
    plain = get(server, PAYLOAD_PATH, tokens["admin"]).json()
    assert plain["since"] == (AS_OF - dt.timedelta(days=data.HISTORY_DAYS - 1)).isoformat()
    wide = get(server, PAYLOAD_PATH, tokens["admin"], window="500d").json()
    # 500 days and the 500 before them: from January 1st of that year.
    assert wide["since"] == f"{(AS_OF - dt.timedelta(days=999)).year}-01-01"
    assert "1|500d" in wide["windows"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"date_from": HI, "date_to": LO}, 422),
        ({"date_from": LO}, 422),
        ({"date_from": "2026-01-01", "date_to": HI}, 400),
        ({"date_from": LO, "date_to": AS_OF + dt.timedelta(days=1)}, 400),
        ({"window": "0d"}, 422),
        ({"window": "yesterday"}, 422),
        ({"window": "2000-01-01..2026-04-01"}, 422),
        ({"date_from": "not a date", "date_to": HI}, 422),
    ],
)
def test_a_bad_range_is_a_4xx_with_a_message(server, tokens, params, status):
    answer = get(server, PAYLOAD_PATH, tokens["admin"], **params)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]


def test_every_panel_is_a_widget_type_in_the_schema(server):
    schema = httpx.get(server[0] + "/openapi.json").json()["components"]["schemas"]
    kinds = schema["WidgetIn"]["properties"]["widget_type"]["enum"]
    assert set(kinds) == set(state.WIDGET_TYPES) and len(kinds) == 38
    script = (Path(data.__file__).with_name("static") / "dashboard.js").read_text()
    for kind in state.WIDGET_TYPES:  # each type has its panel on the page
        assert f" {kind}: " in script, kind
    configuration = schema["Configuration"]["properties"]
    assert {"chart_type", "days", "limit", "date_from", "date_to"} <= set(configuration)


# --- the page in Chromium -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)
    with Chromium(width=1280, height=900) as page:
        yield page


def wait(page: Chromium, expression: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.eval(expression)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {expression}")


SETTLED = "document.body.dataset.state && !document.body.dataset.loading"


def open_live(page: Chromium, server, token: str | None, fragment: str = "") -> None:
    page.open("about:blank")
    page.errors.clear()
    hash_ = "&".join(x for x in (f"token={token}" if token else "", fragment) if x)
    page.open(server[0] + "/dashboard" + (f"#{hash_}" if hash_ else ""))
    wait(page, SETTLED)


def pick_range(page: Chromium, lo: dt.date, hi: dt.date) -> None:
    renders = page.eval("Number(document.body.dataset.renders || 0)")
    page.eval(
        f"""(() => {{
            const period = document.getElementById("period");
            period.value = "range";
            period.dispatchEvent(new Event("change"));
            document.getElementById("date-from").value = "{lo}";
            document.getElementById("date-to").value = "{hi}";
            document.getElementById("range-apply").click();
        }})()"""
    )
    wait(page, f"Number(document.body.dataset.renders || 0) > {renders} && {SETTLED}")
    assert page.eval("document.body.dataset.period") == "range"


def select_website(page: Chromium, website: str) -> None:
    page.eval(
        f"""(() => {{ const pick = document.getElementById("website");
            pick.value = {json.dumps(website)}; pick.dispatchEvent(new Event("change")); }})()"""
    )
    assert page.eval("document.body.dataset.website") == website


def test_without_a_token_a_message_and_no_data(browser, server):
    open_live(browser, server, None)
    assert browser.eval("document.body.dataset.state") == "no-token"
    assert "API token" in browser.eval("document.getElementById('message').textContent")
    assert browser.eval("document.querySelectorAll('.chart, .card').length") == 0
    assert browser.eval("document.getElementById('website').options.length") == 0
    # the range's fields only once "Date range…" is picked
    assert browser.eval("getComputedStyle(document.getElementById('range-form')).display") == "none"
    # A refused token: the same, and it is not kept.
    open_live(browser, server, "mly_not-a-token")
    assert browser.eval("document.body.dataset.state") == "invalid-token"
    assert "not valid" in browser.eval("document.getElementById('message').textContent")
    assert browser.eval("document.querySelectorAll('.chart, .card').length") == 0
    assert browser.eval("sessionStorage.getItem('mealytics-api-token')") is None
    # The token never stays in the address (the fragment is cleared once read).
    assert "token" not in browser.eval("location.href")
    assert not [e for e in browser.errors if "401" not in e]


def read_charts(page: Chromium, hi: dt.date) -> dict:
    charts = {c["name"]: c for c in page.eval(READ_CHARTS)}
    for chart in charts.values():  # the range's end is what the periods call as_of
        chart["stats"] = {k.replace(f" at {hi}", " at as_of"): v
                          for k, v in chart["stats"].items()}
    return charts


class OnRange(Shown):
    """The static dashboard test's windowed SQL, for a date range instead of a period."""

    def __init__(self, path: Path, lo: dt.date, hi: dt.date, websites: list[int]):
        self.con = duckdb.connect(str(path), read_only=True)
        self.days = (hi - lo).days + 1
        self.ids = sorted(websites)
        self.win = f"""win as (
            select w.website_id, w.currency, w.website_name,
                date '{lo}' as lo, date '{hi}' as hi
            from staging.stg_websites as w
            where w.website_id in ({", ".join(map(str, self.ids))}))"""
        self.sites = self.sql(
            "select website_id, currency, website_name, lo, hi from win order by website_id"
        )
        self.currencies = list(dict.fromkeys(c for _, c, _, _, _ in self.sites))


def range_cards(warehouse: Path, website: int, lo: dt.date, hi: dt.date) -> dict:  # noqa: F811
    """Revenue, orders and distinct customers of counted orders placed in the range and in
    the range before, from the staging orders dated here."""
    days = (hi - lo).days + 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [row] = con.execute(
            f"""
            select any_value(currency),
                coalesce(sum(total) filter (where created_date between $1 and $2), 0),
                count(*) filter (where created_date between $1 and $2),
                count(distinct user_id) filter (where created_date between $1 and $2),
                coalesce(sum(total) filter (where created_date between $3 and $4), 0),
                count(*) filter (where created_date between $3 and $4)
            from {DATED_ORDERS} as o where status <> 'cancelled' and website_id = $5""",
            [lo, hi, lo - dt.timedelta(days=days), lo - dt.timedelta(days=1), website],
        ).fetchall()
    keys = ("currency", "revenue", "orders", "customers", "prev_revenue", "prev_orders")
    return dict(zip(keys, row, strict=True))


def check_cards(page: Chromium, warehouse: Path, websites: list[int]) -> None:  # noqa: F811
    shown = page.eval(
        """Object.fromEntries([...document.querySelectorAll('.card')].map(card => [
            card.dataset.metric, [...card.querySelectorAll('.figure')].map(f => ({
                currency: f.dataset.currency || null,
                text: f.querySelector('.value').textContent,
                change: f.querySelector('.delta').dataset.value }))]))"""
    )
    expected = {w: range_cards(warehouse, w, LO, HI) for w in websites}
    revenue = {f["currency"]: f for f in shown["revenue"]}
    assert set(revenue) == {e["currency"] for e in expected.values()}
    for e in expected.values():
        assert revenue[e["currency"]]["text"] == money(e["currency"], e["revenue"])
        if e["prev_revenue"]:
            change = (e["revenue"] - e["prev_revenue"]) / e["prev_revenue"] * 100
            assert abs(Decimal(revenue[e["currency"]]["change"]) - change) <= CENT
    assert shown["orders"][0]["text"] == fmt_int(sum(e["orders"] for e in expected.values()))
    assert shown["customers"][0]["text"] == fmt_int(
        sum(e["customers"] for e in expected.values())
    )


@pytest.mark.parametrize(("who", "website"), [("admin", "all"), ("admin", "2"), ("one", "1")])
def test_every_figure_equals_the_marts_for_a_picked_range(
    browser, server, tokens, warehouse, who, website  # noqa: F811
):
    """No widget stored: every static panel, in the static order; the range picked on the
    page; every chart's marks, stats and tables checked as the static dashboard's are."""
    open_live(browser, server, tokens[who])
    assert browser.eval("document.body.dataset.state") == "ready"
    pick_range(browser, LO, HI)
    select_website(browser, website)
    ids = [1, 2] if website == "all" else [int(website)]
    shown = OnRange(warehouse, LO, HI, ids)
    charts = read_charts(browser, HI)
    try:
        checks = expected_charts(shown)
        assert set(charts) == set(checks)  # the default layout: every static panel
        for name, chart in charts.items():
            assert chart["error"] is None and chart["missing"] is None, chart
            checks[name](chart)
    finally:
        shown.con.close()
    check_cards(browser, warehouse, ids)
    assert f"{LO} – {HI}" in browser.eval("document.getElementById('window').textContent")
    if who == "one":  # the analyst: its website only, nowhere the other
        options = browser.eval("[...document.getElementById('website').options].map(o => o.value)")
        assert options == ["all", "1"]
        text = browser.eval("document.body.innerText")
        assert "Lagos" not in text and "NGN" not in text
    assert not browser.errors


def test_a_range_outside_the_data_is_refused_on_the_page(browser, server, tokens):
    open_live(browser, server, tokens["admin"])
    errors = browser.eval("Number(document.body.dataset.errors || 0)")
    browser.eval(
        """(() => { document.getElementById("date-from").value = "2026-04-06";
            document.getElementById("date-to").value = "2026-03-12";
            document.getElementById("range-apply").click(); })()"""
    )
    wait(browser, f"Number(document.body.dataset.errors || 0) > {errors}")
    assert "after it ends" in browser.eval("document.getElementById('message').textContent")
    browser.eval(
        """(() => { document.getElementById("date-from").value = "2025-12-01";
            document.getElementById("date-to").value = "2026-03-12";
            document.getElementById("range-apply").click(); })()"""
    )
    wait(browser, f"Number(document.body.dataset.errors || 0) > {errors + 1}")
    assert "The data runs from" in browser.eval("document.getElementById('message').textContent")
    assert browser.eval("document.querySelectorAll('.chart').length") > 30  # the data stays


def create(server, token: str, **widget) -> dict:
    answer = httpx.post(server[0] + WIDGETS, json=widget, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_the_panels_follow_the_stored_widgets(browser, server, tokens, warehouse):  # noqa: F811
    made = [
        create(server, tokens["admin"], widget_type="top_items", title="Best sellers, 20 days",
               position=20, configuration={"days": 20, "limit": 3}),
        create(server, tokens["admin"], widget_type="wallet_conversion", title="Hidden",
               position=0, is_visible=False),
        create(server, tokens["admin"], widget_type="points_balance", title="Balance",
               position=10, configuration={"chart_type": "metric"}),
    ]
    try:
        for who, ids in (("admin", [1, 2]), ("one", [1])):
            open_live(browser, server, tokens[who])
            panels = browser.eval(
                "[...document.querySelectorAll('main.grid > [data-widget]')].map(p => "
                "[p.dataset.widget, p.querySelector('h2').textContent])"
            )
            assert panels == [["points_balance", "Balance"],
                              ["top_items", "Best sellers, 20 days"]]
            charts = {c["name"]: c for c in browser.eval(READ_CHARTS)}
            assert set(charts) == {"points_balance", "top_items"}
            sites = ", ".join(map(str, ids))
            with duckdb.connect(str(warehouse), read_only=True) as con:
                # Its own window: the last 20 days up to as_of, whatever the page's period.
                top = con.execute(f"""
                    select names.meal_name, sum(m.quantity_sold) as quantity
                    from marts.fct_item_sales as m
                    inner join (select meal_id, arg_max(meal_name, business_date) as meal_name
                                from marts.fct_item_sales group by meal_id) as names
                        using (meal_id)
                    where m.website_id in ({sites}) and m.business_date between ? and ?
                    group by m.meal_id, names.meal_name
                    order by quantity desc, m.meal_id limit 3""",
                    [AS_OF - dt.timedelta(days=19), AS_OF]).fetchall()
                [(balance, active)] = con.execute(f"""
                    select sum(points_balance), sum(active_clients)
                    from marts.fct_loyalty_points_daily
                    where website_id in ({sites}) and business_date = ?""", [AS_OF]).fetchall()
            assert [(m["label"], m["value"]) for m in charts["top_items"]["marks"]] == [
                (name, float(q)) for name, q in top
            ]
            assert charts["points_balance"]["stats"] == {
                "balance at as_of": fmt_int(balance),
                "active clients": fmt_int(active),
                "average per active client": js_number(r2(balance / active)) if active else "n/a",
            }
            caption = browser.eval("document.querySelector('.widget-window').textContent")
            assert f"{AS_OF - dt.timedelta(days=19)} – {AS_OF}" in caption
            assert not browser.errors
    finally:
        for widget in made:
            httpx.delete(f"{server[0]}{WIDGETS}{widget['id']}/", timeout=30,
                         headers={"Authorization": f"Bearer {tokens['admin']}"})


def test_refresh_shows_a_new_publication(browser, server, published, warehouse, tokens):  # noqa: F811
    open_live(browser, server, tokens["admin"])
    before = browser.eval("document.body.dataset.version")
    assert before and before in browser.eval("document.getElementById('version').textContent")
    publish_version(warehouse, published.publish_dir)
    server[1].state.catalog.settle()
    renders = browser.eval("Number(document.body.dataset.renders)")
    browser.eval("document.getElementById('refresh').click()")
    wait(browser, f"Number(document.body.dataset.renders) > {renders} && {SETTLED}")
    after = browser.eval("document.body.dataset.version")
    assert after != before
    assert after == current_version(published.publish_dir).name
    assert after in browser.eval("document.getElementById('version').textContent")
    assert browser.eval("document.querySelectorAll('.chart').length") > 30
    assert not browser.errors


def test_request_003s_seven_widgets_draw_as_configured(browser, server, tokens, warehouse):  # noqa: F811
    """The seven types of request 003, each with a chart_type, over the year: drawn as
    asked, figures equal to SQL on the marts."""
    configured = [
        ("points_issued", {"chart_type": "bar"}),
        ("redemptions_trend", {"chart_type": "line"}),
        ("tier_distribution", {"chart_type": "pie"}),
        ("top_redemptions", {"chart_type": "table", "limit": 2}),
        ("engagement_rate", {"chart_type": "metric"}),
        ("points_balance", {"chart_type": "line"}),
        ("wallet_conversion", {}),
    ]
    made = [
        create(server, tokens["admin"], widget_type=kind, title=kind, position=k,
               configuration=configuration)
        for k, (kind, configuration) in enumerate(configured)
    ]
    try:
        open_live(browser, server, tokens["admin"], "period=year")
        assert browser.eval("document.body.dataset.period") == "year"
        assert browser.eval("document.body.dataset.widgets").split() == [k for k, _ in configured]
        charts = {c["name"]: c for c in browser.eval(READ_CHARTS)}
        for chart in charts.values():
            assert chart["error"] is None and chart["missing"] is None, chart
        lo = AS_OF - dt.timedelta(days=364)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            [(count, points)] = con.execute(
                "select sum(redemption_count), sum(points_spent) from marts.fct_redemption_items "
                "where business_date between ? and ?", [lo, AS_OF]).fetchall()
            tiers = con.execute("""
                select t.tier, t.threshold, sum(t.active_clients)
                from marts.fct_loyalty_tier_daily as t
                where t.business_date = (select max(business_date) from
                    marts.fct_loyalty_tier_daily as l where l.website_id = t.website_id)
                group by t.tier_rank, t.tier, t.threshold order by t.tier_rank""").fetchall()
            top = con.execute("""
                select any_value(item_name order by business_date desc), sum(redemption_count)
                    as n
                from marts.fct_redemption_items where business_date between ? and ?
                group by redemption_item_id order by n desc, redemption_item_id limit 2""",
                [lo, AS_OF]).fetchall()
            wallet = con.execute("""
                select w.currency, coalesce(sum(c.redemption_count), 0),
                    coalesce(sum(c.points_spent), 0), coalesce(sum(c.value_amount), 0),
                    (select sum(points_redeemed) from marts.fct_loyalty_points_daily as p
                     inner join staging.stg_websites as pw using (website_id)
                     where pw.currency = w.currency and p.business_date between ? and ?)
                from staging.stg_websites as w
                left join marts.fct_wallet_conversions as c on c.website_id = w.website_id
                    and c.business_date between ? and ?
                group by w.currency, w.website_id order by w.website_id""",
                [lo, AS_OF, lo, AS_OF]).fetchall()
        assert charts["redemptions_trend"]["stats"] == {
            "redemptions": fmt_int(count or 0), "points spent": fmt_int(points or 0),
            "per day (avg)": js_number(r2((count or 0) / 365)),
        }
        assert {(m["label"], m["value"]) for m in charts["loyalty_tiers"]["marks"]} == {
            (f"{tier.capitalize()} ({fmt_int(threshold)}+)", float(n))
            for tier, threshold, n in tiers if n
        }
        assert browser.eval(  # a pie: donut arcs, no bars
            "document.querySelectorAll('[data-chart=loyalty_tiers] svg rect').length") == 0
        assert top and count and any(n for _, n, *_ in wallet)  # the data has some
        assert charts["top_redemptions"]["tables"] == [[[name, fmt_int(n)] for name, n in top]]
        expected_wallet = {}
        for currency, n, spent, value, redeemed in wallet:
            c = f" ({currency})"
            expected_wallet |= {
                "conversions" + c: fmt_int(n), "points converted" + c: fmt_int(spent),
                "wallet credit" + c: money(currency, value),
                "share of points redeemed" + c:
                    f"{Decimal(str(r2(100 * spent / redeemed))):,.2f}%" if redeemed else "n/a",
            }
        assert charts["wallet_conversion"]["stats"] == expected_wallet
        assert charts["engagement"]["stats"]["loyalty engagement"].endswith("%")
        assert not charts["engagement"]["marks"]  # a metric: figures, no bars
        assert browser.eval(  # bars, not lines
            "document.querySelectorAll('[data-chart=points] svg rect').length") > 0
        assert browser.eval(
            "document.querySelectorAll('[data-chart=points_balance] svg path').length") > 0
        assert not browser.errors
    finally:
        for widget in made:
            httpx.delete(f"{server[0]}{WIDGETS}{widget['id']}/", timeout=30,
                         headers={"Authorization": f"Bearer {tokens['admin']}"})


@pytest.mark.parametrize(
    "configuration",
    [
        {"date_from": "2026-03-01"},
        {"date_from": "2026-03-10", "date_to": "2026-03-01"},
        {"date_from": "2026-03-01", "date_to": "2026-03-10", "days": 7},
        {"date_from": "March", "date_to": "2026-03-10"},
    ],
)
def test_a_widget_window_is_validated(server, tokens, configuration):
    answer = httpx.post(server[0] + WIDGETS, timeout=30,
                        headers={"Authorization": f"Bearer {tokens['admin']}"},
                        json={"widget_type": "revenue_trend", "title": "x",
                              "configuration": configuration})
    assert answer.status_code == 422 and answer.json()["detail"]


def test_a_widget_keeps_its_own_window(browser, server, tokens, warehouse):  # noqa: F811
    """Metric cards over a stored date range and the revenue trend over its last 7 days,
    whatever the page's period: figures = SQL for each widget's own window."""
    made = [
        create(server, tokens["admin"], widget_type="key_metrics", title="Spring", position=1,
               configuration={"date_from": LO.isoformat(), "date_to": HI.isoformat()}),
        create(server, tokens["admin"], widget_type="revenue_trend", title="Last week",
               position=2, configuration={"days": 7}),
    ]
    try:
        open_live(browser, server, tokens["admin"], "period=year")
        stored = httpx.get(server[0] + WIDGETS, timeout=30,
                           headers={"Authorization": f"Bearer {tokens['admin']}"}).json()
        assert [w["configuration"] for w in stored] == [
            {"date_from": LO.isoformat(), "date_to": HI.isoformat()}, {"days": 7}]
        check_cards(browser, warehouse, [1, 2])
        shown = OnRange(warehouse, AS_OF - dt.timedelta(days=6), AS_OF, [1, 2])
        try:
            charts = read_charts(browser, AS_OF)
            assert set(charts) == {"revenue_trend"}
            expected_charts(shown)["revenue_trend"](charts["revenue_trend"])
        finally:
            shown.con.close()
        captions = browser.eval(
            "[...document.querySelectorAll('.widget-window')].map(p => p.textContent)")
        assert f"{LO} – {HI}" in captions[0]
        assert f"{AS_OF - dt.timedelta(days=6)} – {AS_OF}" in captions[1]
        # the page's own window stays the year
        assert f"{AS_OF - dt.timedelta(days=364)} – {AS_OF}" in browser.eval(
            "document.getElementById('window').textContent")
        assert not browser.errors
    finally:
        for widget in made:
            httpx.delete(f"{server[0]}{WIDGETS}{widget['id']}/", timeout=30,
                         headers={"Authorization": f"Bearer {tokens['admin']}"})


def test_a_state_made_with_the_seven_types_takes_the_new_ones(tmp_path):
    """An API state created when the widget types were request 003's seven: opening it
    rewrites the CHECK on widget_type; its widgets are kept."""
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'old.db'}"
    seven = ", ".join(f"'{kind}'" for kind in state.REQUEST_003_WIDGET_TYPES)
    old = sa.create_engine(url)
    with old.begin() as con:
        con.execute(sa.text(f"""
            create table dashboard_widgets (
                id integer not null primary key, widget_type varchar(32) not null,
                title varchar(200) not null, position integer not null,
                is_visible boolean not null, configuration json not null,
                created_at datetime not null, updated_at datetime not null,
                constraint dashboard_widgets_type check (widget_type in ({seven})))"""))
        con.execute(sa.text(
            "insert into dashboard_widgets values (7, 'points_balance', 'kept', 3, 1, "
            "'{\"days\": 30}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
    with pytest.raises(sa.exc.IntegrityError):
        with old.begin() as con:
            con.execute(sa.text(
                "insert into dashboard_widgets values (8, 'revenue_trend', 'x', 0, 1, '{}', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
    old.dispose()
    engine = state.open_state(url)
    assert state.list_widgets(engine) == [{
        "id": 7, "widget_type": "points_balance", "title": "kept", "position": 3,
        "is_visible": True, "configuration": {"days": 30}}]
    made = state.create_widget(engine, {"widget_type": "revenue_trend", "title": "new",
                                        "position": 0, "is_visible": True, "configuration": {}})
    assert made["widget_type"] == "revenue_trend"
    with pytest.raises(sa.exc.IntegrityError):
        state.create_widget(engine, {"widget_type": "nonsense", "title": "x", "position": 0,
                                     "is_visible": True, "configuration": {}})
    state.open_state(url)  # opened again: nothing to do
    assert len(state.list_widgets(engine)) == 2


def test_usable_at_phone_width(browser, server, tokens):
    open_live(browser, server, tokens["one"])
    browser.viewport(390, 844, mobile=True)
    try:
        browser.drain(0.5)  # the charts redraw at the new width
        assert browser.eval("document.documentElement.scrollWidth") <= 390
        right = browser.eval(
            "Math.max(...[...document.querySelectorAll('.chart svg, .live input, button')]"
            ".map(n => n.getBoundingClientRect().right))")
        assert right <= 390
        assert not browser.errors
    finally:
        browser.send("Emulation.clearDeviceMetricsOverride")
