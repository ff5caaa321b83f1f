"""Benchmark PostgreSQL change capture: the xmin cursor against the `updated_at` cursor.

On an already generated PostgreSQL source (`mealytics source generate --url …`):

- `full`: one full copy (the xmin cursor records both watermarks), copied into one
  warehouse per run that follows;
- `advance`: the source advanced one day (`seeds.advance`), plus a few bulk updates that
  leave `updated_at`, as Django's `queryset.update()` does (`DJANGO_UPDATES`);
- `incremental`: runs alternating between the two cursors, each on its own copy of the
  same warehouse (`changed` shows what each one saw);
- `quiet`: a run of each with nothing changed;
- `upgrade`: a warehouse of the `updated_at` cursor switched to xmin (each table read
  whole once);
- `scan`: the source side alone, each table's cursor query of the incremental run
  (`count(*)` under each cursor's condition, from the full copy's state), best of three,
  summed over the tables.

Every run is `extract_all`; rows and times come from its results. JSON lines go to
`<work>/xmin_results.jsonl`.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/xmin_bench.py \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/bench --work benchmarks/work/xmin
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import sqlalchemy as sa

import seeds
from pipelines import duck
from pipelines.extract import ExtractOptions, extract_all
from pipelines.extract.xmin import xid_range, xmin_condition

#: The two cursors alone: without the content reconciliation (the library's default runs
#: it every run; its cost is measured by extract_bench.py's content phase).
CURSORS = {
    "xmin": ExtractOptions(content_check_every=None),
    "updated_at": ExtractOptions(content_check_every=None, change_cursor="updated_at"),
}


def _run(url: str, warehouse: Path, cursor: str, phase: str, out) -> dict:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    report = extract_all(url, str(warehouse), options=CURSORS[cursor])
    wall = time.perf_counter() - started
    assert report.ok, report.errors
    results = report.results.values()
    top = sorted(results, key=lambda r: r.duration_s, reverse=True)[:4]
    row = {
        "phase": phase,
        "cursor": cursor,
        "wall_s": round(wall, 2),
        "rows_read": sum(r.rows_read for r in results),
        "changed": sum(r.rows_inserted + r.rows_updated + r.rows_deleted for r in results),
        "full_copies": sum(r.full_refresh for r in results),
        "load_1m": round(load, 2),
        "slowest": {r.table: [round(r.duration_s, 2), r.rows_read] for r in top},
    }
    print(json.dumps(row), flush=True)
    out.write(json.dumps(row) + "\n")
    out.flush()
    return row


#: Changes as Django makes them without bumping `updated_at` (queryset.update() with F()
#: expressions, an admin's bulk price change, on_delete=SET_NULL), after the simulated day.
DJANGO_UPDATES = (
    "UPDATE menu_meal SET price = price + 100",
    "UPDATE orders_order SET loyalty_points_used = loyalty_points_used + 1 WHERE id % 1000 = 0",
    "UPDATE accounts_user SET referred_by_id = NULL WHERE referred_by_id IN "
    "(SELECT DISTINCT referred_by_id FROM accounts_user WHERE referred_by_id IS NOT NULL "
    "ORDER BY 1 LIMIT 50)",
)


def _django_updates(url: str) -> int:
    """Apply DJANGO_UPDATES in one transaction: the rows changed."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        changed = sum(conn.execute(sa.text(q)).rowcount for q in DJANGO_UPDATES)
    engine.dispose()
    return changed


def _best(conn: sa.Connection, query, repeats: int = 3) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        count = conn.execute(query).scalar_one()
        times.append(time.perf_counter() - started)
    return min(times), count


def _scan(url: str, base: Path, out) -> None:
    """Each cursor's query of the incremental run, on the source alone."""
    con = duck.connect(base, read_only=True)
    marks = con.execute(
        "SELECT table_name, xid_watermark, watermark_ts, watermark_id, mode FROM meta._sync_state"
    ).fetchall()
    con.close()
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine, only=[m[0] for m in marks])
    totals = {"xmin": 0.0, "updated_at": 0.0}
    rows = {"xmin": 0, "updated_at": 0}
    with engine.connect() as conn:
        (xmax,) = conn.execute(sa.text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text"))
        for name, watermark, since, last_id, mode in marks:
            table = meta.tables[name]
            count = sa.select(sa.func.count()).select_from(table)
            by_xid = count.where(xmin_condition(xid_range(watermark, int(xmax[0]))))
            by_cursor = (
                count.where(table.c.updated_at >= since - dt.timedelta(hours=1))
                if mode == "merge"
                else count.where(table.c.id > last_id)
            )
            for cursor, query in (("xmin", by_xid), ("updated_at", by_cursor)):
                spent, n = _best(conn, query)
                totals[cursor] += spent
                rows[cursor] += n
    engine.dispose()
    row = {
        "phase": "scan",
        "seconds": {k: round(v, 2) for k, v in totals.items()},
        "rows": rows,
        "load_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(row), flush=True)
    out.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--scan-only", action="store_true", help="only the scan phase")
    args = parser.parse_args()
    if args.scan_only:
        with open(args.work / "xmin_results.jsonl", "a") as out:
            _scan(args.url, args.work / "base.duckdb", out)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    base = args.work / "base.duckdb"
    base.unlink(missing_ok=True)
    with open(args.work / "xmin_results.jsonl", "a") as out:
        _run(args.url, base, "xmin", "full", out)
        copies = {
            (cursor, i): args.work / f"{cursor}_{i}.duckdb"
            for i in range(args.repeats)
            for cursor in CURSORS
        }
        for path in copies.values():
            shutil.copyfile(base, path)
        started = time.perf_counter()
        seeds.advance(args.url, days=1, progress=False)
        advance = {
            "phase": "advance",
            "wall_s": round(time.perf_counter() - started, 2),
            "django_updates": _django_updates(args.url),
        }
        print(json.dumps(advance), flush=True)
        out.write(json.dumps(advance) + "\n")
        for (cursor, _), path in copies.items():
            _run(args.url, path, cursor, "incremental", out)
        for cursor in CURSORS:
            _run(args.url, copies[(cursor, 0)], cursor, "quiet", out)
        # A warehouse last run with the updated_at cursor switching to xmin: no xid
        # watermark yet, so every table is read whole once (the upgrade's cost). Its last
        # copy: with one repeat, the one the quiet run used.
        _run(args.url, copies[("updated_at", args.repeats - 1)], "xmin", "upgrade", out)
        _scan(args.url, base, out)


if __name__ == "__main__":
    main()
