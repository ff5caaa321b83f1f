"""Crash safety: the extracting process is SIGKILLed at many deterministic points, then rerun.

Every point is a statement number: a child process extracts every table of a changed
source (a small generated one advanced two days) and kills itself with SIGKILL just before
its n-th warehouse statement (BEGIN, CREATE/INSERT of a stage, the merge's DELETE and
INSERT, delete audit,
watermark, COMMIT of various tables; n right after a COMMIT is "between tables"), or in the
middle of reading a table's Arrow batches. After each kill, an ordinary rerun must leave
every raw table equal to the source, row by row (full-row hashes read through the plain
driver: tests/extract_support.py).

The dbt side: a `dbt run` killed after some models, then rerun, gives marts identical to a
clean build's (every mart hashed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import DBT_BIN, DBT_PROJECT_DIR, run_dbt
from extract_support import assert_equal
from reliability_support import AS_OF, BUILD, mart_hashes

import seeds
from models import TABLES
from pipelines.extract import extract_all

ROOT = Path(__file__).resolve().parents[2]
ALL = [t.name for t in TABLES]

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pipelines.extract import ExtractOptions, Source, extract_all
    from pipelines.extract import warehouse as wh

    url, warehouse, kind, target = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    seen = 0
    original = wh.run

    def run(con, sql, params=None):
        global seen
        if kind == "statement":
            seen += 1
            if seen == target:
                print("killing before:", sql.split()[0], flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        return original(con, sql, params)

    def on_batch(batch):
        global seen
        if kind == "batch":
            seen += 1
            if seen == target:
                os.kill(os.getpid(), signal.SIGKILL)

    wh.run = run
    report = extract_all(Source(url, batch_rows=40), warehouse,
                         options=ExtractOptions(on_batch=on_batch, queue_depth=1))
    print("finished", report.ok, flush=True)
    """
)


def _statements(url: str, warehouse: str) -> list[tuple[str, str]]:
    """(table, first word) of every warehouse statement an extraction issues, in order."""
    from pipelines.extract import replicate
    from pipelines.extract import warehouse as wh

    log: list[tuple[str, str]] = []
    original, extract_table = wh.run, replicate.extract_table
    current = [""]

    def run(con, sql, params=None):
        log.append((current[0], sql.split()[0].upper()))
        return original(con, sql, params)

    def traced(con, session, plan, *args):
        current[0] = plan.name
        return extract_table(con, session, plan, *args)

    wh.run, replicate.extract_table = run, traced
    try:
        assert extract_all(url, warehouse).ok
    finally:
        wh.run, replicate.extract_table = original, extract_table
    return log


@pytest.fixture(scope="module")
def crash_setup(tmp_path_factory, small_source_file):
    """(changed source URL, warehouse before the change, statement log of the catch-up)."""
    base = tmp_path_factory.mktemp("crash")
    source = base / "operational.db"
    shutil.copy(small_source_file, source)
    url = f"sqlite:///{source}"
    before = base / "before.duckdb"
    assert extract_all(url, str(before)).ok
    seeds.advance(url, days=2)
    probe = base / "probe.duckdb"
    shutil.copy(before, probe)
    log = _statements(url, str(probe))
    return url, before, log


def _points(log: list[tuple[str, str]]) -> list[tuple[str, int, str]]:
    """About twenty statement numbers spread over tables and phases (1-based)."""
    tables = sorted({t for t, _ in log if t})
    picks: list[tuple[str, int, str]] = []
    wanted = {"BEGIN", "INSERT", "CREATE", "MERGE", "DELETE", "COMMIT"}
    for i, table in enumerate(tables[:: max(1, len(tables) // 6)][:6]):
        kinds = [(n, w) for n, (t, w) in enumerate(log, 1) if t == table and w in wanted]
        # Three phases per table, rotating: opening, staging or merging, committing.
        first = {}
        for n, word in kinds:
            first.setdefault(word, n)
        middle = ("MERGE", "CREATE", "INSERT", "DELETE")[i % 4]
        for word in ("BEGIN", middle if middle in first else "INSERT", "COMMIT"):
            if word in first:
                picks.append((f"{table}:{word.lower()}", first[word], word))
    commits = [n for n, (_, w) in enumerate(log, 1) if w == "COMMIT"]
    for n in commits[1 : -1 : max(1, len(commits) // 3)]:
        picks.append((f"between tables after commit {n}", n + 1, "after-commit"))
    return picks


BATCH_POINTS = [1, 3, 7, 12]


def _kill(url: str, warehouse: Path, kind: str, n: int) -> str:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(warehouse), kind, str(n)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, (child.stdout, child.stderr[-2000:])
    return child.stdout


def _crash_and_rerun(crash_setup, tmp_path, kind: str, n: int) -> None:
    url, before, _ = crash_setup
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(before, warehouse)
    _kill(url, warehouse, kind, n)
    rerun = extract_all(url, str(warehouse))
    assert rerun.ok, rerun.errors
    assert_equal(url, warehouse, tables=ALL)
    con = duckdb.connect(str(warehouse), read_only=True)
    states = con.execute("SELECT count(*) FROM meta._sync_state").fetchone()[0]
    con.close()
    assert states == len(ALL)


def test_crash_points_cover_tables_and_phases(crash_setup):
    points = _points(crash_setup[2])
    tables = {label.split(":")[0] for label, _, _ in points if ":" in label}
    assert len(points) + len(BATCH_POINTS) >= 20
    assert len(tables) >= 5
    assert {w for _, _, w in points} >= {"BEGIN", "COMMIT", "after-commit"}


@pytest.mark.parametrize("point", range(21))
def test_sigkill_at_statement_then_rerun_equals_source(point, crash_setup, tmp_path):
    points = _points(crash_setup[2])
    if point >= len(points):
        pytest.fail(f"only {len(points)} statement crash points")  # see the coverage test
    label, n, _ = points[point]
    _crash_and_rerun(crash_setup, tmp_path, "statement", n)


@pytest.mark.parametrize("batch", BATCH_POINTS)
def test_sigkill_mid_read_then_rerun_equals_source(batch, crash_setup, tmp_path):
    _crash_and_rerun(crash_setup, tmp_path, "batch", batch)


# dbt: killed while building models, rerun, marts equal a clean build.


@pytest.fixture(scope="module")
def clean_build(built_warehouse, small_source_file, tmp_path_factory):
    """(raw of the small source before dbt, the mart hashes of the suite's clean build)."""
    extracted = tmp_path_factory.mktemp("clean") / "extracted.duckdb"
    assert extract_all(f"sqlite:///{small_source_file}", str(extracted)).ok
    return extracted, mart_hashes(built_warehouse)


@pytest.mark.parametrize("models_done", [10, 50])
def test_dbt_killed_mid_build_then_rerun_equals_clean_build(models_done, clean_build, tmp_path):
    """Killed among the staging models, then among the marts: the rebuild converges."""
    extracted, expected = clean_build
    assert len(expected) >= 20
    killed = tmp_path / "killed" / "w.duckdb"
    killed.parent.mkdir()
    shutil.copy(extracted, killed)
    env = {
        **os.environ,
        "MEALYTICS_WAREHOUSE": str(killed),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": str(killed.parent / "dbt_target"),
        "DBT_LOG_PATH": str(killed.parent / "dbt_logs"),
    }
    child = subprocess.Popen(
        [
            str(DBT_BIN),
            *BUILD,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--vars",
            f"{{as_of: '{AS_OF}'}}",
            "--threads",
            "1",
        ],
        env=env,
        cwd=DBT_PROJECT_DIR,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    created = 0
    for line in child.stdout:
        created += " OK created " in line
        if created == models_done:
            os.killpg(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, "dbt finished before the kill point"

    rerun = run_dbt(killed, *BUILD, as_of=AS_OF)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert mart_hashes(killed) == expected
