"""Crash soak (not in CI): SIGKILL the extraction at many random statements of a bigger
source, each time after it advanced a day, and check that the rerun converges.

Each round: the source advances one day (`seeds.advance`); a child process extracts and
kills itself just before a random warehouse statement (or in a random Arrow batch); an
ordinary rerun follows; every raw table must equal the source row by row
(tests/extract_support.py's full-row hashes). The warehouse carries over between rounds,
so crashes pile up on one history, as they would in production.

    .venv/bin/python benchmarks/crash_soak.py --customers 2000 --days 60 --rounds 40
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "reliability")]

from extract_support import assert_equal  # noqa: E402
from test_crash_safety import CHILD, _statements  # noqa: E402

import seeds  # noqa: E402
from models import TABLES  # noqa: E402
from pipelines.extract import extract_all  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="crash-soak-"))
    url = f"sqlite:///{work / 'operational.db'}"
    warehouse = work / "warehouse.duckdb"
    seeds.generate(
        url,
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        start="2026-01-01",
        progress=False,
    )
    assert extract_all(url, str(warehouse)).ok
    tables = [t.name for t in TABLES]
    began, killed = time.monotonic(), 0
    for round_ in range(1, args.rounds + 1):
        seeds.advance(url, days=1, progress=False)
        probe = work / "probe.duckdb"
        probe.write_bytes(warehouse.read_bytes())
        statements = len(_statements(url, str(probe)))
        probe.unlink()
        kind = rng.choice(["statement", "statement", "batch"])
        n = rng.randint(1, statements if kind == "statement" else 30)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, url, str(warehouse), kind, str(n)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        killed += child.returncode == -signal.SIGKILL
        rerun = extract_all(url, str(warehouse))
        assert rerun.ok, rerun.errors
        assert_equal(url, warehouse, tables=tables)
        print(
            f"round {round_}: {kind} {n} of {statements}: "
            f"{'killed' if child.returncode == -signal.SIGKILL else 'finished'}, rerun equal"
        )
    print(
        f"{killed} kills in {args.rounds} rounds, all converged, {time.monotonic() - began:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
