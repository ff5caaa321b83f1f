"""A support ticket opened before a website's first order keeps its day in the daily marts.

The demo of seed 11 with 150 customers over 40 days from 2026-01-01 has one: a customer of
Kampala (website 1) writes to support on 2 January, the day before the website's first
order (3 January). fct_support_agents_monthly counts it; the daily marts used to start at
the first order and dropped it, so assert_staff_and_kitchen_marts_add_up failed. The
operations calendar (int_operations_days_spined) now starts at the first activity of any
kind those marts count. The build is the singular test and what it reads, and the
consultations daily mart, nothing else.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

import duckdb
import pytest
from dbt_helpers import run_dbt

import seeds
from pipelines.extract import extract_all

START = dt.date(2026, 1, 1)
DAYS = 40
AS_OF = START + dt.timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("ops_calendar")
    source, warehouse = root / "source.db", root / "warehouse.duckdb"
    seeds.generate(
        f"sqlite:///{source}", customers=150, days=DAYS, seed=11, start=START, progress=False
    )
    assert extract_all(f"sqlite:///{source}", str(warehouse)).ok
    result = run_dbt(
        warehouse,
        "build",
        "--select",
        "+assert_staff_and_kitchen_marts_add_up",
        "+fct_consultations_daily",
        "--indirect-selection",
        "cautious",
        "--exclude",
        "resource_type:unit_test",
        as_of=AS_OF.isoformat(),
    )
    return source, warehouse, result


def _first_local_dates(source, table: str) -> dict[int, dt.date]:
    with sqlite3.connect(source) as con:
        zones = dict(con.execute("select id, timezone from accounts_website").fetchall())
        rows = con.execute(f"select website_id, created_at from {table}").fetchall()
    first: dict[int, dt.date] = {}
    for website, created in rows:
        stamp = dt.datetime.fromisoformat(created).replace(tzinfo=dt.UTC)
        day = stamp.astimezone(ZoneInfo(zones[website])).date()
        first[website] = min(first.get(website, day), day)
    return first


def test_a_ticket_before_the_first_order_is_counted_by_the_daily_mart(built):
    source, warehouse, result = built
    # The singular test (and every data test of what it reads) passes.
    assert result.returncode == 0, result.stdout[-4000:]
    assert "assert_staff_and_kitchen_marts_add_up" in result.stdout

    first_order = _first_local_dates(source, "orders_order")
    first_ticket = _first_local_dates(source, "support_ticket")
    # The case this module is about is in the data (if the generator changes, pick a seed
    # that still has one).
    assert first_ticket[1] == dt.date(2026, 1, 2) < first_order[1] == dt.date(2026, 1, 3)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        first_days = dict(
            con.execute(
                "select website_id, min(business_date) from marts.fct_support_tickets_daily"
                " group by website_id"
            ).fetchall()
        )
        opened_on_the_2nd = con.execute(
            "select tickets_opened from marts.fct_support_tickets_daily"
            " where website_id = 1 and business_date = date '2026-01-02'"
        ).fetchall()
        daily, agents = con.execute(
            "select (select sum(tickets_opened) from marts.fct_support_tickets_daily),"
            " (select sum(tickets) from marts.fct_support_agents_monthly)"
        ).fetchone()
        calendars = {
            table: con.execute(
                f"select website_id, min(business_date), max(business_date), count(*)"
                f" from marts.{table} group by website_id order by website_id"
            ).fetchall()
            for table in (
                "fct_support_tickets_daily",
                "fct_consultations_daily",
                "fct_kitchen_daily",
            )
        }
    assert first_days == {w: min(first_order[w], first_ticket[w]) for w in first_order}
    assert opened_on_the_2nd == [(1,)]
    assert daily == agents > 0
    # The three operations daily marts share one calendar, ending on as_of.
    assert len({tuple(rows) for rows in calendars.values()}) == 1
    assert all(last == AS_OF for _, _, last, _ in calendars["fct_kitchen_daily"])
