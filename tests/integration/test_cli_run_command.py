"""The real command: `.venv/bin/mealytics run --as-of …` as a subprocess, end to end.

A small generated SQLite source (300 customers, 30 days from 2026-09-01), a warehouse, a
Dagster instance and the published files all in the test's folder; the repository's dbt
project. The run must succeed and its printed summary must say what the source holds; one
mart figure is checked against SQL on the SOURCE. (That a failed check of any severity
makes the command exit 1, and how the summary names it, is tested on the report itself in
tests/unit/test_cli_run.py: a second real run here cost a minute and a half of CI.)
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

import seeds
from models import metadata

ROOT = Path(__file__).resolve().parents[2]
MEALYTICS = ROOT / ".venv" / "bin" / "mealytics"
START = dt.date(2026, 9, 1)
DAYS = 30
AS_OF = START + dt.timedelta(days=DAYS)  # the generated days end the day before (UTC)
DAY = dt.date(2026, 9, 17)  # the business date whose revenue is checked
CUSTOMERS = 300


class Setup:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = root / "source.db"
        self.warehouse = root / "data" / "warehouse.duckdb"
        home = root / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        seeds.generate(
            f"sqlite:///{self.source}",
            customers=CUSTOMERS,
            days=DAYS,
            seed=7,
            start=START,
            progress=False,
        )
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MEALYTICS_") and k not in ("FORCE_COLOR", "DAGSTER_HOME")
        }
        self.env = {
            **env,
            "MEALYTICS_SOURCE_URL": f"sqlite:///{self.source}",
            "MEALYTICS_WAREHOUSE": str(self.warehouse),
            "DAGSTER_HOME": str(home),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "COLUMNS": "200",  # the summary's tables unwrapped
            "NO_COLOR": "1",
            "TERM": "dumb",
        }

    def run(self) -> subprocess.CompletedProcess:
        # cwd: the test's folder, so no `.env` of the repository is read
        return subprocess.run(
            [str(MEALYTICS), "run", "--as-of", AS_OF.isoformat()],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Setup:
    return Setup(tmp_path_factory.mktemp("cli_run"))


def _source_counts(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {
            t: db.execute(f'select count(*) from "{t}"').fetchone()[0]
            for t in sorted(metadata.tables)
        }
    finally:
        db.close()


def _source_day_revenue(path: Path, day: dt.date) -> dict[int, tuple[int, Decimal]]:
    """website → (counted orders, Σ total) of business date `day`, by SQL on the source.

    Counted: every status but cancelled; the business date is created_at (UTC) in the
    website's zone (METRICS.md). SQLite has no zones: each website's UTC offset on `day`
    goes into the SQL as a modifier (the generated zones have no DST change that day).
    """
    db = sqlite3.connect(path)
    try:
        out = {}
        for website, zone in db.execute("select id, timezone from accounts_website"):
            tz = ZoneInfo(zone)
            start = dt.datetime.combine(day, dt.time(0), tz).utcoffset()
            end = dt.datetime.combine(day, dt.time(23, 59), tz).utcoffset()
            assert start == end, f"{zone} changes offset on {day}"
            minutes = int(start.total_seconds() // 60)
            orders, cents = db.execute(
                "select count(*), sum(cast(round(total * 100) as integer)) from orders_order "
                "where website_id = ? and status <> 'cancelled' "
                "and date(created_at, ?) = ?",
                (website, f"{minutes:+d} minutes", day.isoformat()),
            ).fetchone()
            if orders:
                out[website] = (orders, Decimal(cents) / 100)
        return out
    finally:
        db.close()


def _raw_rows(stdout: str) -> dict[str, int]:
    """table → rows, from the summary's "raw tables" table."""
    rows = {}
    for line in stdout.split("raw tables", 1)[1].split("marts built", 1)[0].splitlines():
        fields = line.split()
        if len(fields) == 5 and fields[0] in metadata.tables:
            rows[fields[0]] = int(fields[1].replace(",", ""))
    return rows


def _marts(stdout: str) -> dict[str, str]:
    """mart → rows (text), from the summary's "marts built" table."""
    return dict(re.findall(r"^marts\.(\w+)\s+([\d,]+|-)\s*$", stdout, re.MULTILINE))


def test_run_command_reports_what_the_source_holds(setup):
    result = setup.run()
    out = result.stdout
    assert result.returncode == 0, (out[-4000:], result.stderr[-4000:])

    counts = _source_counts(setup.source)
    assert counts["accounts_user"] == CUSTOMERS and counts["orders_order"] > CUSTOMERS
    assert _raw_rows(out) == counts

    marts = _marts(out)
    assert len(marts) >= 20, out
    assert marts["dim_customers"] == f"{CUSTOMERS:,}"
    assert marts["fct_daily_snapshot"] not in ("-", "0")

    checks = re.search(r"^checks: (\d+) passed, (\d+) failed$", out, re.MULTILINE)
    assert checks, out
    passed, failed = map(int, checks.groups())
    assert failed == 0 and passed >= 100
    assert re.search(r"^run \w{8} succeeded: \d+ assets materialized", out, re.MULTILINE)
    assert f"as of {AS_OF}" in out
    assert (setup.warehouse.parent / "dashboard.html").is_file()

    expected = _source_day_revenue(setup.source, DAY)
    assert len(expected) >= 2, f"pick a busier day than {DAY}"
    con = duckdb.connect(str(setup.warehouse), read_only=True)
    try:
        actual = {
            website: (orders, revenue)
            for website, orders, revenue in con.execute(
                "select website_id, total_orders, gross_revenue from marts.fct_daily_snapshot "
                "where business_date = ? and total_orders > 0",
                [DAY],
            ).fetchall()
        }
    finally:
        con.close()
    assert actual == expected
