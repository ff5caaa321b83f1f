"""Benchmark the lake writer (`pipelines.lake`): raw as Parquet for Spark, full and incremental.

On a copy of an extracted warehouse (the original is only read), each phase in its own
subprocess (its wall time and peak RSS, `wait4` rusage, are its own):

- `full`: `export_full` (every raw table written whole, bucketed by key);
- `noop`: `write` again, nothing changed (every table "unchanged": manifests only);
- `day`: a synthetic day of changes logged in `meta._changes` as the extractor logs them
  (1 % of orders and order items inserted with new ids, 1 % of orders updated, 0.1 % of
  order items deleted; the updates and deletes drawn from all rows, or with `--recent 0.05`
  from the newest 5 % of ids, as a business's changes are: today's orders get delivered),
  then `write`: only the buckets holding those keys are rewritten;
- `verify`: `verify` (row counts and a content hash of every table, raw against lake);
- `spark`: a Spark session on local[2] (loopback, no UI) counts every table of the lake
  (`spark.read.parquet` of its folder), compared with raw's counts. Peak RSS is this
  process's: the JVM is a child of it, not counted.

    .venv/bin/python benchmarks/lake_bench.py \
        --warehouse benchmarks/work/extract_wh_sqlite_1000000.duckdb

Prints one markdown row per phase; appends JSON to benchmarks/work/lake_results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "work"


def _phase(name: str, warehouse: Path, lake: Path, rows_per_file: int) -> dict:
    from pipelines import lake as lk

    began = time.perf_counter()
    if name == "full":
        done = lk.export_full(warehouse, lake, rows_per_file=rows_per_file)
    elif name in ("noop", "day"):
        if name == "day":
            _a_day(warehouse, float(os.environ.get("LAKE_BENCH_RECENT", "1.0")))
            began = time.perf_counter()
        done = lk.write(warehouse, lake, rows_per_file=rows_per_file)
    elif name == "spark":
        return _spark_counts(warehouse, lake)
    else:
        checks = lk.verify(warehouse, lake)
        return {
            "seconds": round(time.perf_counter() - began, 2),
            "tables": len(checks),
            "equal": all(c.equal for c in checks.values()),
            "rows": sum(c.raw_rows for c in checks.values()),
        }
    return {
        "seconds": round(time.perf_counter() - began, 2),
        "tables": len(done),
        "modes": {
            m: sum(r.mode == m for r in done.values()) for m in {r.mode for r in done.values()}
        },
        "files_written": sum(r.files_written for r in done.values()),
        "files_removed": sum(r.files_removed for r in done.values()),
        "rows_written": sum(r.rows_written for r in done.values()),
        "rows": sum(r.rows for r in done.values()),
    }


def _spark_counts(warehouse: Path, lake: Path) -> dict:
    """Spark local[2] (loopback, no UI) reads every table of the lake and counts its rows."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from pyspark.sql import SparkSession

    from pipelines import duck
    from pipelines import lake as lk

    began = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    started = time.perf_counter() - began
    con = duck.connect(warehouse, read_only=True)
    tables = lk.raw_tables(con)
    counted = time.perf_counter()
    counts = {t: spark.read.parquet(str(lk.table_folder(lake, t))).count() for t in tables}
    seconds = time.perf_counter() - counted
    raw = {t: con.execute(f'select count(*) from raw."{t}"').fetchone()[0] for t in tables}
    con.close()
    spark.stop()
    return {
        "seconds": round(seconds, 2),
        "spark_start_s": round(started, 1),
        "tables": len(tables),
        "rows": sum(counts.values()),
        "equal": counts == raw,
    }


def _a_day(warehouse: Path, recent: float) -> None:
    """The synthetic day, written into raw and logged as the extractor would. Updated and
    deleted rows are drawn from the newest `recent` share of ids (1.0: from all rows)."""
    from pipelines.extract import changes
    from pipelines.extract import warehouse as wh

    con = wh.connect(str(warehouse))  # meta and its bookkeeping, as a run makes them
    changes.ensure_table(con)
    con.execute("begin")
    seq = con.execute("select coalesce(max(seq), 0) from meta._changes").fetchone()[0]
    for table, ins, upd, dele in (
        ("orders_order", 0.01, 0.01, 0),
        ("orders_orderitem", 0.01, 0, 0.001),
    ):
        seq += 1
        (top, n) = con.execute(f"select max(id), count(*) from raw.{table}").fetchone()
        (low,) = con.execute(f"select quantile_disc(id, {1 - recent}) from raw.{table}").fetchone()
        share = 100 / recent  # the sample's percentage within the recent rows
        log = (
            "insert into meta._changes (seq, table_name, op, row_id, row_key, recorded_at) "
            f"select {seq}, '{table}', ?, id, '[' || id || ']', now() from "
        )
        if dele:
            con.execute(
                f"create temp table gone as select id from raw.{table} where id >= {low} "
                f"using sample {min(dele * share, 100)}% (bernoulli, 3)"
            )
            con.execute(log + "gone", ["delete"])
            con.execute(f"delete from raw.{table} where id in (select id from gone)")
            con.execute("drop table gone")
        if upd:
            con.execute(
                f"create temp table touched as select id from raw.{table} where id >= {low} "
                f"using sample {min(upd * share, 100)}% (bernoulli, 5)"
            )
            con.execute(log + "touched", ["update"])
            con.execute(
                f"update raw.{table} set updated_at = updated_at + interval 1 minute "
                "where id in (select id from touched)"
            )
            con.execute("drop table touched")
        if ins:
            con.execute(
                # New rows get the next ids, one after another, as a sequence gives them.
                f"create temp table fresh as select * replace ({top} + row_number() over () "
                f"as id) from (select * from raw.{table} "
                f"using sample {int(n * ins)} rows (reservoir, 7))"
            )
            con.execute(log + "fresh", ["insert"])
            con.execute(f"insert into raw.{table} select * from fresh")
            con.execute("drop table fresh")
    con.execute("commit")
    con.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/lake_bench"))
    parser.add_argument("--rows-per-file", type=int, default=1_000_000)
    parser.add_argument("--phases", nargs="*", default=["full", "noop", "day", "verify"])
    parser.add_argument(
        "--recent",
        type=float,
        default=1.0,
        help="the day's updates and deletes among the newest share of ids (1.0: all rows)",
    )
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warehouse, lake = args.work / "warehouse.duckdb", args.work / "lake"
    if args.phase:
        print(json.dumps(_phase(args.phase, warehouse, lake, args.rows_per_file)))
        return 0
    if "full" in args.phases or not warehouse.exists():
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        shutil.copyfile(args.warehouse, warehouse)
    WORK.mkdir(exist_ok=True)
    print("| phase | s | peak RSS MiB | tables | what |\n|---|---|---|---|---|")
    for phase in args.phases:
        began = time.perf_counter()
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--warehouse",
                str(args.warehouse),
                "--work",
                str(args.work),
                "--rows-per-file",
                str(args.rows_per_file),
                "--phase",
                phase,
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.getcwd(), "LAKE_BENCH_RECENT": str(args.recent)},
        )
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = status
        result = json.loads(out.strip().splitlines()[-1]) if status == 0 else {"failed": status}
        result.update(
            phase=phase,
            wall_s=round(time.perf_counter() - began, 1),
            peak_rss_mib=round(usage.ru_maxrss / 1024),
            warehouse=str(args.warehouse),
            lake_bytes=sum(f.stat().st_size for f in lake.rglob("*.parquet")),
        )
        shown = ("phase", "seconds", "peak_rss_mib", "tables", "warehouse")
        rest = json.dumps({k: v for k, v in result.items() if k not in shown})
        print(
            f"| {phase} | {result.get('seconds')} | {result['peak_rss_mib']} | "
            f"{result.get('tables')} | {rest} |",
            flush=True,
        )
        with open(WORK / "lake_results.jsonl", "a") as out_file:
            out_file.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
