"""Publishing: the Parquet export and the static dashboard, opened in a real headless
Chromium (Debian's /usr/bin/chromium, driven over the DevTools protocol: tests/cdp.py).

One small generated business (two websites, two currencies) is extracted and built once
for the module. The dashboard's metric cards are compared, for every website selection and
every period, with figures computed here in SQL from the staging orders (not from the marts
the page embeds); the page must log no error, load nothing from the network, draw every
chart and stay inside a phone's width. A screenshot is kept in tests/artifacts/.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
from cdp import CHROMIUM, Chromium
from dbt_helpers import run_dbt

import seeds
from pipelines.defs.publish import DASHBOARD_KEY, PARQUET_KEY, WAREHOUSE_KEY, build_publish_assets
from pipelines.defs.resources import Warehouse
from pipelines.extract import extract_all
from pipelines.publish import PERIODS, export_parquet, write_dashboard

START = dt.date(2026, 3, 1)
DAYS = 40
AS_OF = START + dt.timedelta(days=DAYS - 1)  # the last generated day
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("publish")
    source, warehouse = root / "operational.db", root / "warehouse.duckdb"
    seeds.generate(
        f"sqlite:///{source}", customers=150, days=DAYS, seed=7, start=START, progress=False
    )
    assert not extract_all(f"sqlite:///{source}", str(warehouse)).errors
    # dbt's tests are other modules' business: build the models and seeds only.
    result = run_dbt(
        warehouse,
        "build",
        "--exclude",
        "resource_type:test",
        "resource_type:unit_test",
        as_of=AS_OF.isoformat(),
    )
    assert result.returncode == 0, result.stdout[-5000:]
    return warehouse


def query(warehouse: Path, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def marts(warehouse: Path) -> set[str]:
    return {
        name
        for (name,) in query(
            warehouse,
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' and table_type = 'BASE TABLE'",
        )
    }


# --- Parquet --------------------------------------------------------------------------------


def test_every_mart_is_exported_to_parquet_whole(warehouse, tmp_path):
    out = tmp_path / "parquet"
    rows = export_parquet(warehouse, out)
    assert set(rows) == marts(warehouse) and "fct_daily_snapshot" in rows
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{m}.parquet" for m in rows)
    for mart, count in rows.items():
        table = pq.read_table(out / f"{mart}.parquet")
        [(in_mart,)] = query(warehouse, f"select count(*) from marts.{mart}")
        assert table.num_rows == count == in_mart
    # Figures survive the round trip exactly (decimals stay decimals).
    [(parquet_sum,)] = query(
        warehouse, f"select sum(gross_revenue) from '{out / 'fct_daily_snapshot.parquet'}'"
    )
    [(mart_sum,)] = query(warehouse, "select sum(gross_revenue) from marts.fct_daily_snapshot")
    assert parquet_sum == mart_sum and isinstance(parquet_sum, Decimal)
    # A second export replaces the files in place and leaves no temporary file behind.
    export_parquet(warehouse, out)
    assert len(list(out.iterdir())) == len(rows)


def test_publish_assets_materialize_beside_the_warehouse(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("MEALYTICS_PUBLISH_DIR", str(tmp_path))
    assets = build_publish_assets([dg.AssetKey(["marts", "fct_daily_snapshot"])])
    result = dg.materialize(assets, resources={"warehouse": Warehouse(path=str(warehouse))})
    assert result.success
    keys = {e.asset_key for e in result.get_asset_materialization_events()}
    assert keys == {PARQUET_KEY, DASHBOARD_KEY, WAREHOUSE_KEY}
    assert (tmp_path / "published.duckdb").exists()
    assert (tmp_path / "dashboard.html").stat().st_size > 10_000
    assert (tmp_path / "parquet" / "fct_daily_snapshot.parquet").exists()


# --- the dashboard --------------------------------------------------------------------------


def expected_cards(warehouse: Path, website: int, days: int) -> dict:
    """Revenue, orders, distinct customers and AOV of counted orders placed in the window of
    `days` business days ending at AS_OF, and in the window before (from staging.stg_orders)."""
    start = AS_OF - dt.timedelta(days=days - 1)
    previous = start - dt.timedelta(days=days)
    [(revenue, orders, customers, prev_revenue, prev_orders, prev_customers, currency)] = query(
        warehouse,
        """
        select
            coalesce(sum(total) filter (where orders.created_date >= ?), 0),
            count(*) filter (where orders.created_date >= ?),
            count(distinct user_id) filter (where orders.created_date >= ?),
            coalesce(sum(total) filter (where orders.created_date < ?), 0),
            count(*) filter (where orders.created_date < ?),
            count(distinct user_id) filter (where orders.created_date < ?),
            any_value(websites.currency)
        from staging.stg_orders as orders
        inner join staging.stg_websites as websites on orders.website_id = websites.website_id
        where orders.website_id = ? and status <> 'cancelled'
            and orders.created_date between ? and ?
        """,
        start,
        start,
        start,
        start,
        start,
        start,
        website,
        previous,
        AS_OF,
    )
    return {
        "currency": currency,
        "revenue": revenue,
        "orders": orders,
        "customers": customers,
        "prev_revenue": prev_revenue,
        "prev_orders": prev_orders,
        "prev_customers": prev_customers,
    }


def money(currency: str, amount: Decimal) -> str:
    return f"{currency} {amount.quantize(CENT, ROUND_HALF_UP):,.2f}"


@pytest.fixture(scope="module")
def page(warehouse):
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)", pytrace=False
        )
    html = write_dashboard(warehouse, warehouse.parent / "dashboard.html")
    with Chromium(width=1280, height=900) as browser:
        browser.open(html.as_uri())
        assert browser.eval("document.body.dataset.ready") == "1"
        browser.html = html
        yield browser


def select(page: Chromium, period: str, website: str) -> None:
    page.eval(
        f"""(() => {{
            for (const [id, value] of [["period", {json.dumps(period)}],
                                       ["website", {json.dumps(website)}]]) {{
                const node = document.getElementById(id);
                node.value = value;
                node.dispatchEvent(new Event("change"));
            }}
        }})()"""
    )
    assert page.eval("document.body.dataset.period") == period
    assert page.eval("document.body.dataset.website") == website


def cards(page: Chromium) -> dict:
    return page.eval(
        """Object.fromEntries([...document.querySelectorAll('.card')].map(card => [
            card.dataset.metric,
            [...card.querySelectorAll('.figure')].map(f => ({
                currency: f.dataset.currency || null,
                text: f.querySelector('.value').textContent,
                value: f.querySelector('.value').dataset.value,
                change: f.querySelector('.delta').dataset.value,
            }))]))"""
    )


def test_the_page_is_self_contained_and_small(page):
    text = page.html.read_text(encoding="utf-8")
    assert len(text.encode()) < 2_000_000
    # Nothing to fetch: no external script, style, image or font.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(http" not in text
    assert page.eval("performance.getEntriesByType('resource').length") == 0


def test_every_chart_draws_its_data(page, warehouse):
    select(page, "month", "all")
    charts = page.eval(
        """[...document.querySelectorAll('.chart')].map(c => ({
            name: c.dataset.chart, rendered: Number(c.dataset.rendered),
            missing: c.dataset.missing || null, error: c.dataset.error || null,
            drawn: c.querySelectorAll('svg rect, svg path, svg circle, td, .stat').length }))"""
    )
    built = marts(warehouse)
    assert len(charts) >= 18
    for chart in charts:
        assert chart["error"] is None, chart
        if chart["missing"]:
            # Only a mart that is really not built may leave its panel empty.
            assert chart["missing"] not in built, chart
            continue
        assert chart["rendered"] > 0 and chart["drawn"] > 0, chart
    assert not page.errors


@pytest.mark.parametrize("period", list(PERIODS))
def test_metric_cards_equal_the_warehouse_for_every_website_and_period(page, warehouse, period):
    websites = [
        w
        for (w,) in query(
            warehouse, "select website_id from staging.stg_websites order by website_id"
        )
    ]
    expected = {w: expected_cards(warehouse, w, PERIODS[period]) for w in websites}
    for choice in [*map(str, websites), "all"]:
        select(page, period, choice)
        shown = cards(page)
        chosen = websites if choice == "all" else [int(choice)]
        # Money per currency (each website has its own here), never summed across them.
        revenue = {f["currency"]: f for f in shown["revenue"]}
        aov = {f["currency"]: f for f in shown["aov"]}
        assert set(revenue) == {expected[w]["currency"] for w in chosen}
        for w in chosen:
            e = expected[w]
            figure = revenue[e["currency"]]
            assert figure["text"] == money(e["currency"], e["revenue"]), (choice, period)
            assert Decimal(figure["value"]) == e["revenue"]
            if e["prev_revenue"]:
                change = (e["revenue"] - e["prev_revenue"]) / e["prev_revenue"] * 100
                assert abs(Decimal(figure["change"]) - change) <= CENT
            if e["orders"]:
                exact = e["revenue"] / e["orders"]
                assert abs(Decimal(aov[e["currency"]]["value"]) - exact) <= CENT / 2
                assert aov[e["currency"]]["text"] == money(
                    e["currency"], Decimal(aov[e["currency"]]["value"])
                )
        orders = sum(expected[w]["orders"] for w in chosen)
        customers = sum(expected[w]["customers"] for w in chosen)
        assert shown["orders"][0]["text"] == f"{orders:,}"
        assert shown["customers"][0]["text"] == f"{customers:,}"
        prev_orders = sum(expected[w]["prev_orders"] for w in chosen)
        if prev_orders:
            change = Decimal(orders - prev_orders) / prev_orders * 100
            assert abs(Decimal(shown["orders"][0]["change"]) - change) <= CENT
    assert not page.errors


def test_charts_show_the_marts_figures(page, warehouse):
    """Beyond the cards: the top item and the channel amounts of one website and window."""
    select(page, "week", "1")
    start = AS_OF - dt.timedelta(days=6)
    [(meal, quantity)] = query(
        warehouse,
        """
        select meal_name, sum(quantity_sold) as quantity from marts.fct_item_sales
        where website_id = 1 and business_date between ? and ?
        group by meal_id, meal_name order by quantity desc, meal_id limit 1""",
        start,
        AS_OF,
    )
    top = page.eval("document.querySelector('[data-chart=top_items] svg rect title').textContent")
    assert top == f"{meal}: {quantity:,}"
    channels = dict(
        query(
            warehouse,
            """
        select channel, sum(amount) from marts.fct_revenue_by_channel
        where website_id = 1 and business_date between ? and ?
        group by channel having sum(amount) <> 0""",
            start,
            AS_OF,
        )
    )
    shown = page.eval(
        "[...document.querySelectorAll('[data-chart=channels] svg rect title')]"
        ".map(t => t.textContent)"
    )
    expected = [
        f"{name.replace('_', ' ')}: {money('UGX', amount)}" for name, amount in channels.items()
    ]
    assert sorted(shown) == sorted(expected)


def test_publish_can_run_without_a_run(warehouse, tmp_path, capsys):
    from pipelines.publish.__main__ import main

    assert main(["--warehouse", str(warehouse), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "dashboard.html").exists()
    assert (tmp_path / "parquet" / "dim_customers.parquet").exists()
    assert main(["--warehouse", str(tmp_path / "missing.duckdb")]) == 1
    assert "no warehouse" in capsys.readouterr().err


def test_the_selectors_change_the_figures(page):
    select(page, "year", "all")
    year = cards(page)
    select(page, "day", "all")
    day = cards(page)
    assert int(year["orders"][0]["value"]) > int(day["orders"][0]["value"]) > 0
    select(page, "month", "1")
    one = cards(page)
    assert [f["currency"] for f in one["revenue"]] == ["UGX"]
    assert page.eval("location.hash") == "#period=month&website=1"


def test_usable_at_phone_width_and_screenshots(page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    select(page, "month", "all")
    page.screenshot(ARTIFACTS / "dashboard.png")
    page.viewport(390, 844, mobile=True)
    page.drain(0.5)  # the charts redraw at the new width
    assert page.eval("document.documentElement.scrollWidth") <= 390
    widths = page.eval(
        "[...document.querySelectorAll('.chart svg')].map(s => s.getBoundingClientRect().right)"
    )
    assert widths and max(widths) <= 390
    page.screenshot(ARTIFACTS / "dashboard-phone.png")
    assert not page.errors


def test_published_copy_reads_with_a_second_browser_offline(page, tmp_path):
    # The file alone, moved elsewhere, still renders: nothing is read beside it.
    moved = shutil.copy(page.html, tmp_path / "copy.html")
    with Chromium() as other:
        other.open(Path(moved).as_uri())
        assert other.eval("document.body.dataset.ready") == "1"
        assert other.eval("document.querySelectorAll('.card .value').length") >= 4
        assert not other.errors


# --- documentation --------------------------------------------------------------------------


def test_every_mart_and_its_columns_are_described_and_linked(warehouse, monkeypatch):
    """dbt's manifest (written by the module's build) documents every mart and every column
    the warehouse actually has; each mart's Dagster asset links to its dbt docs page."""
    from pipelines.defs.dbt import MealyticsDbtTranslator

    manifest = json.loads((warehouse.parent / "dbt_target" / "manifest.json").read_text())
    models = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] == "marts"
    ]
    assert {m["name"] for m in models} >= {"fct_daily_snapshot", "dim_customers"}
    actual: dict[str, set[str]] = {}
    columns = query(
        warehouse,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts'",
    )
    for table, column in columns:
        actual.setdefault(table, set()).add(column)
    undocumented = []
    for model in models:
        if not model["description"].strip():
            undocumented.append(model["name"])
        described = {c for c, spec in model["columns"].items() if spec["description"].strip()}
        declared = set(model["columns"])
        undocumented += [f"{model['name']}.{c}" for c in sorted(declared - described)]
        undocumented += [
            f"{model['name']}.{c}" for c in sorted(actual.get(model["name"], set()) - declared)
        ]
    assert not undocumented, undocumented

    monkeypatch.setenv("MEALYTICS_DBT_DOCS_URL", "https://docs.example/index.html")
    metadata = MealyticsDbtTranslator().get_metadata(models[0])
    assert metadata["dbt_docs"].url == (
        f"https://docs.example/index.html#!/model/{models[0]['unique_id']}"
    )


# --- the README's BI connections ------------------------------------------------------------


def test_bi_connections_in_the_readme_work(warehouse, tmp_path):
    import sys

    import pandas as pd
    import sqlalchemy as sa

    # SQLAlchemy (duckdb_engine), as Superset, Metabase's Python bridge or a notebook use it.
    engine = sa.create_engine(f"duckdb:///{warehouse}", connect_args={"read_only": True})
    try:
        with engine.connect() as conn:
            customers = conn.execute(sa.text("select count(*) from marts.dim_customers")).scalar()
            assert "fct_daily_snapshot" in sa.inspect(conn).get_table_names(schema="marts")
        frame = pd.read_sql("select * from marts.fct_daily_snapshot", engine)
    finally:
        engine.dispose()
    assert customers == 150 and len(frame) > 0

    # The duckdb CLI (PyPI duckdb-cli) on the Parquet export.
    export_parquet(warehouse, tmp_path / "parquet")
    cli = Path(sys.executable).with_name("duckdb")
    result = subprocess.run(
        [
            str(cli),
            "-csv",
            "-c",
            f"select count(*) from '{tmp_path / 'parquet' / 'dim_customers.parquet'}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["count_star()", "150"]
    assert len(pd.read_parquet(tmp_path / "parquet" / "dim_customers.parquet")) == 150
