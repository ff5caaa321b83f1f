"""Benchmark `mealytics source generate`: wall time, peak memory and rows, per size and backend.

Runs the real console command in a subprocess, once per (backend, customer count), on a
fresh target each time:
- sqlite: a file under benchmarks/work/ (git-ignored);
- postgresql: a throwaway server on loopback (tests/pgcluster.py, the tests' own), one
  database per run; fsync off as in the tests, so this measures the generator and the
  server's CPU, not the disk.

Peak RSS is the generator process's own (`wait4` rusage of that child), not the server's.
Each result is printed as a markdown row as soon as it is known and appended as JSON to
benchmarks/work/generate_results.jsonl, so a long run that is stopped keeps what it has.

    .venv/bin/python benchmarks/generate_bench.py --customers 10000 100000
    .venv/bin/python benchmarks/generate_bench.py --customers 1000000 --backends sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from models import TABLES

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work"
MEALYTICS = ROOT / ".venv" / "bin" / "mealytics"

sys.path.insert(0, str(ROOT / "tests"))  # the tests' throwaway server, shared
from pgcluster import PostgresCluster  # noqa: E402

#: A bigger server than the tests' for tens of millions of rows: fewer checkpoints.
PG_SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min"}

HEADER = (
    "| backend | customers | days | orders | rows written | wall time | generator CPU "
    "| rows/s | peak RSS | size on disk |\n"
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
)


def snapshot(rev: str) -> tuple[str, Path]:
    """The product's code at `rev`, exported under benchmarks/work/: other engineers keep
    committing while a long run goes on, and the two backends must run the same code."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", rev],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = WORK / f"code-{sha}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", sha, "models", "seeds", "pipelines"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return sha, target


def run_generate(
    url: str, customers: int, days: int, seed: int, start: str, code: Path | None = None
) -> dict:
    """Run the command once; its wall time (s) and peak RSS (MiB).

    With `code`, the console command imports the product from that directory (PYTHONPATH
    comes before the editable install) instead of the working tree.
    """
    command = [
        str(MEALYTICS), "-q", "source", "generate",
        "--customers", str(customers), "--days", str(days), "--seed", str(seed),
        "--start", start, "--url", url, "--force",
    ]  # fmt: skip
    load_before = os.getloadavg()[1]
    output = WORK / "generate_last.log"  # a file, not a pipe: a full pipe would block it
    with output.open("w") as out:
        began = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=str(code)) if code else None
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(
            f"generate failed ({process.returncode}): {output.read_text().strip()[-2000:]}"
        )
    # Linux reports ru_maxrss in KiB.
    return {
        "wall_s": round(wall, 2),
        # CPU time is steadier than wall time on a machine shared with other work.
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        # The machine's 5-minute load average before and after: other work skews wall time.
        "load": [round(load_before, 1), round(os.getloadavg()[1], 1)],
    }


def code_version() -> str:
    """The commit measured, with '+dirty' if seeds/ or models/ differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "seeds", "models", "pipelines/cli.py")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def count_rows(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in TABLES
            }
    finally:
        engine.dispose()


def pg_database_bytes(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("select pg_database_size(current_database())")).scalar()
    finally:
        engine.dispose()


@contextmanager
def sqlite_targets() -> Iterator:
    def target(customers: int) -> tuple[str, callable]:
        path = WORK / f"generate_{customers}.db"
        for leftover in WORK.glob(f"generate_{customers}.db*"):
            leftover.unlink()
        return f"sqlite:///{path}", lambda: path.stat().st_size

    yield target


@contextmanager
def postgresql_targets() -> Iterator:
    with PostgresCluster(settings=PG_SETTINGS) as cluster:
        admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")

        def target(customers: int) -> tuple[str, callable]:
            name = f"generate_{customers}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            url = cluster.url(name)
            return url, lambda: pg_database_bytes(url)

        try:
            yield target
        finally:
            admin.dispose()


BACKENDS = {"sqlite": sqlite_targets, "postgresql": postgresql_targets}


def human(n: float, unit: str = "") -> str:
    for suffix in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.3g}{suffix}{unit}" if suffix else f"{n:.0f}{unit}"
        n /= 1000
    return f"{n:.3g}T{unit}"


def markdown_row(result: dict) -> str:
    cpu = f"{result['cpu_s']:,.1f} s" if "cpu_s" in result else "–"
    return (
        f"| {result['backend']} | {result['customers']:,} | {result['days']} "
        f"| {result['orders']:,} | {result['rows']:,} | {result['wall_s']:,.1f} s "
        f"| {cpu} "
        f"| {human(result['rows'] / result['wall_s'])} | {result['peak_rss_mib']:,.0f} MiB "
        f"| {result['bytes'] / 2**20:,.0f} MiB |"
    )


def report(log: Path) -> int:
    latest = {}
    for line in log.read_text().splitlines():
        result = json.loads(line)
        latest[(result["backend"], result["customers"])] = result
    print(HEADER)
    for key in sorted(latest, key=lambda k: (list(BACKENDS).index(k[0]), k[1])):
        result = latest[key]
        print(markdown_row(result), f"<!-- code {result.get('code', '?')} -->")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backends", nargs="+", choices=list(BACKENDS), default=list(BACKENDS))
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", default="2026-01-01", help="first business day")
    parser.add_argument(
        "--rev", help="measure the code of this git revision (default: the working tree)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the SQLite files (PostgreSQL goes anyway)"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="print the table of the results recorded so far (the latest per backend and size)",
    )
    args = parser.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "generate_results.jsonl"
    if args.report:
        return report(log)
    print(
        f"# generate benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        flush=True,
    )
    code = None
    if args.rev:
        version, code = snapshot(args.rev)
    else:
        version = code_version()
    print(f"# code {version}", flush=True)
    print(HEADER, flush=True)
    results = []
    for backend in args.backends:
        with BACKENDS[backend]() as target:
            for customers in args.customers:
                url, size = target(customers)
                result = {"backend": backend, "customers": customers, "days": args.days}
                result |= run_generate(url, customers, args.days, args.seed, args.start, code)
                rows = count_rows(url)
                result |= {
                    "orders": rows["orders_order"],
                    "rows": sum(rows.values()),
                    "bytes": size(),
                    "tables": rows,
                    "seed": args.seed,
                    "code": version,
                    "start": args.start,
                    "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
                if backend == "sqlite" and not args.keep:
                    for leftover in WORK.glob(f"generate_{customers}.db*"):
                        leftover.unlink()
                with log.open("a") as out:
                    out.write(json.dumps(result) + "\n")
                results.append(result)
                print(markdown_row(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
