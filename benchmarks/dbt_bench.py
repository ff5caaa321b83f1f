"""Benchmark `dbt build` on a generated warehouse: wall time, dbt's own elapsed time, the
slowest nodes, peak memory of the dbt process, and mart row counts, per customer count.

For each size: the demo generator writes a SQLite source under benchmarks/work/
(git-ignored), the extractor lands it in a fresh DuckDB warehouse, then `dbt build` runs
once in a subprocess (dbt's target/ and logs beside the warehouse, so the project's own
are left alone). Results are printed and appended as JSON to
benchmarks/work/dbt_results.jsonl.

    .venv/bin/python benchmarks/dbt_bench.py --customers 5000
    .venv/bin/python benchmarks/dbt_bench.py --customers 5000 50000 --days 180
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import time
from pathlib import Path

from pipelines import duck

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work"
DBT = ROOT / ".venv" / "bin" / "dbt"
PROJECT = ROOT / "dbt_project"
START = dt.date(2025, 9, 1)


def build_warehouse(customers: int, days: int, directory: Path) -> Path:
    import seeds
    from pipelines.extract import extract_all

    source = directory / "operational.db"
    warehouse = directory / "warehouse.duckdb"
    for path in (source, warehouse):
        path.unlink(missing_ok=True)
    seeds.generate(f"sqlite:///{source}", customers=customers, days=days, seed=42,
                   start=START, force=True, progress=False)
    report = extract_all(f"sqlite:///{source}", str(warehouse))
    if report.errors:
        raise SystemExit(f"extraction failed: {report.errors}")
    return warehouse


def time_dbt_build(warehouse: Path, as_of: dt.date) -> dict:
    target = warehouse.parent / "dbt_target"
    env = {
        **os.environ,
        "MEALYTICS_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(warehouse.parent / "dbt_logs"),
    }
    command = [str(DBT), "build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
               "--vars", f"{{as_of: '{as_of.isoformat()}'}}"]
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=PROJECT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate()
    # dbt is this script's only child process: the children's peak RSS is dbt's.
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wall = time.perf_counter() - began
    if process.returncode != 0:
        raise SystemExit(output[-3000:])
    results = json.loads((target / "run_results.json").read_text())
    slowest = sorted(results["results"], key=lambda r: r["execution_time"], reverse=True)[:5]
    return {
        "wall_s": round(wall, 1),
        "dbt_elapsed_s": round(results["elapsed_time"], 1),
        "nodes": len(results["results"]),
        "slowest": [(r["unique_id"].split(".")[-1], round(r["execution_time"], 2))
                    for r in slowest],
        "peak_rss_mb": round(peak_kb / 1024),
    }


def mart_rows(warehouse: Path) -> dict:
    with duck.connect(warehouse, read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by table_name"
        ).fetchall()
        return {name: con.execute(f'select count(*) from marts."{name}"').fetchone()[0]
                for (name,) in tables}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[5000])
    parser.add_argument("--days", type=int, default=180)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    for customers in args.customers:
        directory = WORK / f"dbt_{customers}"
        directory.mkdir(exist_ok=True)
        warehouse = build_warehouse(customers, args.days, directory)
        as_of = START + dt.timedelta(days=args.days - 2)
        result = {
            "customers": customers, "days": args.days, "as_of": as_of.isoformat(),
            "machine": f"{platform.machine()} {os.cpu_count()} cpus",
            **time_dbt_build(warehouse, as_of),
            "mart_rows": mart_rows(warehouse),
        }
        print(json.dumps(result, indent=2))
        with (WORK / "dbt_results.jsonl").open("a") as out:
            out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
