"""Equality, the invariant of change-driven dbt (issue 16): after every incremental run,
every mart and every incremental model equals a clean full build of the same raw data.

A small generated business is extracted and built once; then, day by day, the activity
simulator advances the source (new orders, late cancellations, refunds days later, bulk
updates behind `updated_at`, hard deletes, loyalty and VIP changes), the extraction copies
what changed (and logs it in `meta._changes`), and dbt runs incrementally with `as_of`
moving on. After each round a copy of the warehouse is rebuilt with `--full-refresh`, and
every table of schemas marts and intermediate must equal it row for row (EXCEPT ALL both
ways: multisets, money to the cent since DECIMAL compares exactly).

Then a round within the day, as the 15-minute refresh sees one: `as_of` stays, three new
orders (with items and payments) arrive and an order from two weeks back is cancelled.

The incremental models must really have run incrementally: their state says mode
'changes' after each round (a run that rebuilt everything would pass trivially).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import run_dbt

import seeds
from pipelines.extract import extract_all

START = dt.date(2026, 3, 1)
DAYS = 30
ROUNDS = 3
BUILD = ("build", "--exclude", "resource_type:test", "resource_type:unit_test")


def _tables(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[str]:
    listed = ", ".join(f"'{s}'" for s in schemas)
    return [
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({listed}) and table_type = 'BASE TABLE' order by all"
        ).fetchall()
    ]


def _differences(incremental: Path, full: Path) -> dict[str, tuple[int, int, int]]:
    """Per table: (rows, rows only the incremental build has, rows only the full build has)."""
    con = duckdb.connect(str(incremental), read_only=True)
    try:
        con.execute(f"attach '{full}' as full_build (read_only)")
        found = {}
        for table in _tables(con, ("intermediate", "marts")):
            (rows,) = con.execute(f"select count(*) from {table}").fetchone()
            (only_incremental,) = con.execute(
                f"select count(*) from (select * from {table} "
                f"except all select * from full_build.{table})"
            ).fetchone()
            (only_full,) = con.execute(
                f"select count(*) from (select * from full_build.{table} "
                f"except all select * from {table})"
            ).fetchone()
            found[table] = (rows, only_incremental, only_full)
        return found
    finally:
        con.close()


def _modes(warehouse: Path) -> dict[str, tuple[str, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {m: (mode, reason) for m, mode, reason in con.execute(
            "select model, mode, reason from changes._state order by model").fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def business(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("equality")
    source, warehouse = root / "operational.db", root / "warehouse.duckdb"
    url = f"sqlite:///{source}"
    seeds.generate(url, customers=250, days=DAYS, seed=11, start=START, progress=False)
    assert extract_all(url, str(warehouse)).ok
    as_of = START + dt.timedelta(days=DAYS - 1)
    built = run_dbt(warehouse, *BUILD, as_of=as_of.isoformat())
    assert built.returncode == 0, built.stdout[-4000:]
    return url, warehouse


def _within_the_day(path: Path) -> None:
    """Minutes of activity: the three newest orders placed again a minute later (new ids,
    their items and payments too), and a delivered order of two weeks back cancelled; each
    change with `updated_at` a minute past the source's newest, as Django's save does."""
    db = sqlite3.connect(path)
    try:
        newest = dt.datetime.fromisoformat(
            db.execute("select max(updated_at) from orders_order").fetchone()[0])
        stamp = (newest + dt.timedelta(minutes=1)).isoformat(sep=" ")
        later = "strftime('%Y-%m-%d %H:%M:%f', {}, '+1 minute')"
        offset = db.execute("select max(id) from orders_order").fetchone()[0]
        chosen = "select id from orders_order order by created_at desc limit 3"
        for table, link in (("orders_order", "id"), ("orders_orderitem", "order_id"),
                            ("payments_payment", "order_id")):
            columns = [r[1] for r in db.execute(f"pragma table_info({table})")]
            top = db.execute(f"select max(id) from {table}").fetchone()[0]
            exprs = [
                f"t.id + {top}" if c == "id" else
                f"t.order_id + {offset}" if c == "order_id" else
                f"'{stamp}'" if c == "updated_at" else
                f"case when t.{c} is null then null else {later.format('t.' + c)} end"
                if c.endswith("_at") else f"t.{c}"
                for c in columns
            ]
            db.execute(f"insert into {table} ({', '.join(columns)}) select {', '.join(exprs)} "
                       f"from {table} as t where t.{link} in ({chosen})")
        old = (newest - dt.timedelta(days=14)).isoformat(sep=" ")
        cancelled = db.execute(
            "update orders_order set status = 'cancelled', cancelled_at = ?, updated_at = ? "
            "where id = (select id from orders_order where status = 'delivered' "
            "and created_at < ? order by created_at desc limit 1)", (stamp, stamp, old))
        assert cancelled.rowcount == 1
        db.commit()
    finally:
        db.close()


def test_every_incremental_run_equals_a_full_build(business, tmp_path):
    url, warehouse = business
    for day in range(1, ROUNDS + 2):
        if day <= ROUNDS:
            seeds.advance(url, days=1, progress=False)
            as_of = START + dt.timedelta(days=DAYS - 1 + day)
        else:  # a refresh within the last day: as_of stays
            _within_the_day(Path(url.removeprefix("sqlite:///")))
        assert extract_all(url, str(warehouse)).ok
        built = run_dbt(warehouse, *BUILD, as_of=as_of.isoformat())
        assert built.returncode == 0, built.stdout[-4000:]
        modes = _modes(warehouse)
        assert modes and all(mode == "changes" for mode, _ in modes.values()), modes

        full = tmp_path / f"full_{day}.duckdb"
        shutil.copy(warehouse, full)
        rebuilt = run_dbt(full, *BUILD, "--full-refresh", as_of=as_of.isoformat())
        assert rebuilt.returncode == 0, rebuilt.stdout[-4000:]
        differences = _differences(warehouse, full)
        assert differences, "no table compared"
        wrong = {t: d for t, d in differences.items() if d[1] or d[2]}
        assert not wrong, f"day {day}: tables that differ from a full build: {wrong}"
        full.unlink()
