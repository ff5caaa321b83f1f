"""Today so far (issue 16): the frequent refresh's marts end with today's partial day.

With the dbt var `today_so_far` (the refresh schedule's runs, `mealytics run --today`) and
no `as_of`, each website's "now" is today in its own zone instead of yesterday: the daily
snapshot gains today's row, whose orders are those placed today, local time, so far.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import zoneinfo

import duckdb
import pytest
from dbt_helpers import DBT_BIN, DBT_PROJECT_DIR

import seeds
from pipelines.extract import extract_all


def _dbt(warehouse, *vars_: str):
    import os
    import subprocess

    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DBT_TARGET_PATH": str(warehouse.parent / "target"),
           "DBT_LOG_PATH": str(warehouse.parent / "logs")}
    command = [str(DBT_BIN), "build", "--exclude", "resource_type:test", "resource_type:unit_test",
               "--select", "+fct_daily_snapshot", "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR),
               "--vars", "{warehouse: '" + str(warehouse) + "'" + "".join(vars_) + "}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    assert done.returncode == 0, done.stdout[-3000:]


def test_the_refresh_shows_today_so_far(tmp_path):
    source, warehouse = tmp_path / "operational.db", tmp_path / "warehouse.duckdb"
    url = f"sqlite:///{source}"
    # Up to the latest website's yesterday (late in the UTC evening, Kampala's yesterday is
    # already UTC's today: seeds.generate's default start).
    seeds.generate(url, customers=120, days=10, seed=5, progress=False)
    with sqlite3.connect(source) as con:
        zones = dict(con.execute("select id, timezone from accounts_website").fetchall())
    # Today's activity (one whole day, simulated): up to the latest website's today.
    seeds.advance(url, days=1, progress=False)
    assert extract_all(url, str(warehouse)).ok

    with sqlite3.connect(source) as con:
        orders = con.execute(
            "select website_id, created_at from orders_order where status <> 'cancelled'"
        ).fetchall()
    now = dt.datetime.now(dt.UTC)
    today = {w: now.astimezone(zoneinfo.ZoneInfo(z)).date() for w, z in zones.items()}
    placed_today = dict.fromkeys(zones, 0)
    for website, created in orders:
        stamp = dt.datetime.fromisoformat(created).replace(tzinfo=dt.UTC)
        if stamp.astimezone(zoneinfo.ZoneInfo(zones[website])).date() == today[website]:
            placed_today[website] += 1
    assert sum(placed_today.values()) > 0  # the test means something

    snapshot = (
        "select website_id, max(business_date), "
        "sum(total_orders) filter (where business_date = "
        "(select max(business_date) from marts.fct_daily_snapshot s "
        "where s.website_id = d.website_id)) "
        "from marts.fct_daily_snapshot d group by website_id order by website_id"
    )
    _dbt(warehouse)  # the daily run: complete days only
    with duckdb.connect(str(warehouse), read_only=True) as con:
        daily = {w: last for w, last, _ in con.execute(snapshot).fetchall()}
    assert daily == {w: d - dt.timedelta(days=1) for w, d in today.items()}

    _dbt(warehouse, ", today_so_far: true")  # a refresh: today so far
    later = dt.datetime.now(dt.UTC)
    if any(later.astimezone(zoneinfo.ZoneInfo(z)).date() != today[w] for w, z in zones.items()):
        pytest.skip("a website's midnight passed during the test")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        refreshed = {w: (last, n) for w, last, n in con.execute(snapshot).fetchall()}
    assert refreshed == {w: (today[w], placed_today[w]) for w in zones}
