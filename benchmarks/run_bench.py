"""Benchmark the whole `mealytics run` (extract, dbt, checks, publish) as a business lives
it (issue 16.6): a full run, the daily run after one simulated day, a refresh after 15
simulated minutes, and a run with nothing changed; per phase (Dagster step) and peak RSS.

Each run is the real command in a subprocess (`mealytics -q run --as-of D`) against a copy
of a generated SQLite source, a fresh warehouse and a persistent Dagster instance, whose
events give each step's duration. Peak RSS is the largest single process of the run (the
`mealytics` process or dbt's, which holds DuckDB): `RUSAGE_CHILDREN` after the wait.

- full: a fresh warehouse, `as_of` = the source's last day D.
- daily: `mealytics source advance --days 1` (not timed), then a run with `as_of` D + 1 and
  the content reconciliation a day's run does in production (`MEALYTICS_CONTENT_CHECK_EVERY`
  is a day of wall time, which a benchmark does not wait for: the daily run sets it to 0).
  On SQLite it is what finds the simulator's quiet changes (bulk cancels, sweeps by
  `update()`), which no `updated_at` cursor sees.
- refresh: 15 simulated minutes: the orders placed in a 15-minute window of the day before
  the source's last instant, with their items and payments, copied 24 hours later under
  new ids (≈ 1/96 of a day's orders; the simulator has no sub-day step), then a run with
  the same `as_of` (the day does not turn within a refresh).
- nothing: a run straight after, nothing changed.
- `--verify`: a `--full-refresh` run of the final source into a second warehouse, and every
  mart compared (rows and a hash of every row): the incremental runs must equal it.

Results go to benchmarks/work/run_results.jsonl (one JSON per run, as soon as known) and
`--report` prints them as the README's table.

    .venv/bin/python benchmarks/run_bench.py --source /path/operational.db --label 100k
    .venv/bin/python benchmarks/run_bench.py --report
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from dbt_helpers import mart_hashes  # noqa: E402 (the tests' own: rows and a hash per mart)

WORK = ROOT / "benchmarks" / "work"
RESULTS = WORK / "run_results.jsonl"
MEALYTICS = Path(sys.executable).parent / "mealytics"
PHASES = ("full", "daily", "refresh", "nothing")
STEPS = {
    "raw_tables": "extract",
    "dbt_models": "dbt",
    "raw_quality": "raw checks",
    "raw_reconciliation": "reconcile",
    "publish": "publish",
}


def code_version() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout
    return git("rev-parse", "--short", "HEAD").strip() + ("+" if git("status", "--porcelain",
                                                                      "pipelines", "dbt_project")
                                                         else "")


def last_day(source: Path) -> dt.date:
    with sqlite3.connect(source) as db:
        newest = db.execute("select max(created_at) from orders_order").fetchone()[0]
    return dt.datetime.fromisoformat(newest).date()


def fifteen_minutes(source: Path) -> dict[str, int]:
    """Copy the orders of a 15-minute window 24 h before the source's last instant, with
    their items and payments, 24 hours later under new ids. Rows written per table."""
    shift = "+1 day"
    stamp = "strftime('%Y-%m-%d %H:%M:%f', {c}, '" + shift + "')"
    with sqlite3.connect(source) as db:
        newest = db.execute("select max(updated_at) from orders_order").fetchone()[0]
        end = dt.datetime.fromisoformat(newest) - dt.timedelta(days=1)
        begin = end - dt.timedelta(minutes=15)
        window = (begin.isoformat(sep=" "), end.isoformat(sep=" "))
        written = {}
        order_offset = db.execute("select max(id) from orders_order").fetchone()[0]
        for table, key_cols, times in (
            ("orders_order", None, ("created_at", "updated_at", "delivered_at",
                                    "cancelled_at", "confirmed_at", "prepared_at")),
            ("orders_orderitem", "order_id", ("created_at", "updated_at")),
            ("payments_payment", "order_id", ("created_at", "updated_at", "completed_at")),
        ):
            columns = [r[1] for r in db.execute(f"pragma table_info({table})")]
            offset = db.execute(f"select max(id) from {table}").fetchone()[0]
            chosen = ("select id from orders_order where created_at >= ? and created_at < ?")
            where = (f"t.id in ({chosen})" if key_cols is None
                     else f"t.{key_cols} in ({chosen})")
            exprs = []
            for column in columns:
                if column == "id":
                    exprs.append(f"t.id + {offset}")
                elif column == "order_id":
                    exprs.append(f"t.order_id + {order_offset}")
                elif column in times:
                    exprs.append(f"case when t.{column} is null then null else "
                                 f"{stamp.format(c='t.' + column)} end")
                elif column == "provider_reference":
                    exprs.append("t.provider_reference || '-15m'")
                else:
                    exprs.append(f"t.{column}")
            cur = db.execute(
                f"insert into {table} ({', '.join(columns)}) select {', '.join(exprs)} "
                f"from {table} as t where {where}", window)
            written[table] = cur.rowcount
    return written


def run(label: str, phase: str, env: dict, as_of: dt.date, extra: tuple = ()) -> dict:
    load = os.getloadavg()
    began = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    process = subprocess.Popen(
        [str(MEALYTICS), "-q", "run", "--as-of", as_of.isoformat(), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree = TreeMemory(process.pid)
    tree.start()
    stdout, stderr = process.communicate()
    tree.stop()
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    wall = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"{label} {phase}: mealytics run failed ({done.returncode})")
    steps, kind, changed_rows = step_times(env)
    result = {
        "label": label, "phase": phase, "as_of": as_of.isoformat(), "wall_s": round(wall, 1),
        # ru_maxrss only grows: a run below an earlier peak reports none of its own
        "peak_rss_mib": round(peak / 1024) if peak > before else None,
        # the whole process tree at once (dbt, its DuckDB, Spark's JVM), sampled every 0.5 s
        "peak_tree_rss_mib": round(tree.peak / 2**20),
        "steps": steps, "dbt_plan": kind, "raw_rows_changed": changed_rows,
        "load": [round(load[0], 1), round(os.getloadavg()[0], 1)],
        "code": code_version(), "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "env": EXTRA_ENV,
    }
    WORK.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(json.dumps(result) + "\n")
    print(json.dumps(result), flush=True)
    return result


class TreeMemory(threading.Thread):
    """The largest sum of resident memory over a process and all its descendants, sampled
    every half second from /proc (Spark's JVM is a grandchild that `RUSAGE_CHILDREN` never
    sees: pyspark does not wait for it)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0, threading.Event()

    def stop(self) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        while not self._done.wait(0.5):
            self.peak = max(self.peak, self.sample())

    def sample(self) -> int:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        tree, grew = {self.pid}, True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= more
            grew = bool(more)
        total = 0
        for pid in tree:
            try:
                pages = int((Path("/proc") / str(pid) / "statm").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
            total += pages * os.sysconf("SC_PAGE_SIZE")
        return total


def step_times(env: dict) -> tuple[dict, str | None, int]:
    """The newest run's step durations (s), the dbt plan's kind, raw rows changed."""
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    import dagster as dg
    from dagster import DagsterEventType as T

    with dg.DagsterInstance.get() as instance:
        record = instance.get_runs(limit=1)[0]
        started, steps, changed_rows, kind = {}, {}, 0, None
        for entry in instance.all_logs(record.run_id):
            event = entry.dagster_event
            if event is None:
                message = entry.user_message or ""
                if message.startswith("dbt: "):
                    kind = message.split()[1]
                continue
            if event.event_type == T.STEP_START:
                started[event.step_key] = entry.timestamp
            elif event.event_type == T.STEP_SUCCESS:
                name = STEPS.get(event.step_key, "checks (freshness)")
                steps[name] = round(
                    steps.get(name, 0) + entry.timestamp - started[event.step_key], 2)
            elif event.event_type == T.ASSET_MATERIALIZATION:
                md = event.event_specific_data.materialization.metadata
                if event.event_specific_data.materialization.asset_key.path[0] == "raw":
                    changed_rows += sum(int(md[k].value) for k in
                                        ("rows_inserted", "rows_updated", "rows_deleted")
                                        if k in md)
    return steps, kind, changed_rows


#: `--env KEY=VALUE` settings of every run (e.g. MEALYTICS_DBT_MEMORY_LIMIT=1500MB)
EXTRA_ENV: dict[str, str] = {}


def environment(folder: Path, source: Path) -> dict:
    (folder / "dagster").mkdir(parents=True, exist_ok=True)
    (folder / "dagster" / "dagster.yaml").touch()
    return {
        **os.environ,
        **EXTRA_ENV,
        "MEALYTICS_SOURCE_URL": f"sqlite:///{source}",
        "MEALYTICS_WAREHOUSE": str(folder / "data" / "warehouse.duckdb"),
        "DAGSTER_HOME": str(folder / "dagster"),
        "MEALYTICS_REFRESH_MINUTES": "0",
    }


def bench(source: Path, label: str, phases: tuple[str, ...], verify: bool) -> None:
    folder = WORK / f"run_{label}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    copy = folder / "operational.db"
    shutil.copyfile(source, copy)
    env = environment(folder, copy)
    day = last_day(copy)
    for phase in phases:
        if phase == "full":
            run(label, phase, env, day)
        elif phase == "daily":
            subprocess.run([str(MEALYTICS), "-q", "source", "advance", "--days", "1"], env=env,
                           check=True, capture_output=True)
            day = last_day(copy)
            run(label, phase, {**env, "MEALYTICS_CONTENT_CHECK_EVERY": "0"}, day)
        elif phase == "refresh":
            print("15 minutes:", fifteen_minutes(copy), flush=True)
            run(label, phase, env, day)
        elif phase == "nothing":
            run(label, phase, env, day)
    if verify:
        clean = folder / "clean"
        clean_env = environment(clean, copy)
        run(label, "verify-full-refresh", clean_env, day, ("--full-refresh",))
        ours = mart_hashes(folder / "data" / "warehouse.duckdb")
        theirs = mart_hashes(clean / "data" / "warehouse.duckdb")
        differ = sorted(t for t in theirs if ours.get(t) != theirs[t])
        print(f"verify: {len(theirs)} marts, differing: {differ or 'none'}", flush=True)
        with RESULTS.open("a") as out:
            out.write(json.dumps({"label": label, "phase": "verify", "marts": len(theirs),
                                  "differing": differ, "code": code_version()}) + "\n")


def report() -> None:
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    print("| size | run | dbt | wall | extract | dbt | raw checks | reconcile | publish "
          "| other checks | peak RSS | × full | load |")
    print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    full = {}
    for row in rows:
        if "wall_s" not in row:
            continue
        if row["phase"] == "full":
            full[row["label"]] = row["wall_s"]
        s = row["steps"]
        ratio = row["wall_s"] / full[row["label"]] if row["label"] in full else None
        label = row["label"] + "".join(f", {k}={v}" for k, v in row.get("env", {}).items())
        print(f"| {label} | {row['phase']} | {row['dbt_plan']} | {row['wall_s']} s "
              + " ".join(f"| {s.get(k, 0)} s" for k in ("extract", "dbt", "raw checks",
                                                         "reconcile", "publish",
                                                         "checks (freshness)"))
              + f" | {row['peak_rss_mib'] or '≤ above'} MiB"
              + (f" (tree {row['peak_tree_rss_mib']:,} MiB)" if row.get("peak_tree_rss_mib")
                 else "") + " | "
              + (f"{ratio:.1%}" if ratio is not None else "") + f" | {row['load']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path)
    parser.add_argument("--label")
    parser.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES)
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE",
                        help="settings for every run, recorded with the results")
    args = parser.parse_args(argv)
    EXTRA_ENV.update(item.split("=", 1) for item in args.env)
    if args.report:
        report()
        return 0
    if not args.source or not args.label:
        parser.error("--source and --label, or --report")
    bench(args.source.resolve(), args.label, tuple(args.phases), args.verify)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
