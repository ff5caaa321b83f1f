"""Clean failures (issue 15, item 5): a bad environment value, a read-only folder, a
damaged warehouse or Dagster storage, a full disk, SIGINT and SIGTERM each end the
command with one line naming the variable or file and what to do, a non-zero exit, and no
traceback.

The settings cases run `mealytics` in process (`cli.main`), as they fail before any run;
the others run the real command in a subprocess. A full disk is a real one: a 4 MB tmpfs
mounted for the test (12 MB: root; CI runs as root) holding the warehouse, dbt's parse and
the run's log, so the writes fail with ENOSPC during the run, as on a full disk. Without
root, `RLIMIT_FSIZE` in the child (writes past the limit fail with EFBIG) stands in for it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import resource
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_support import AS_OF

from pipelines import cli

ROOT = Path(__file__).resolve().parents[2]
MEALYTICS = ROOT / ".venv" / "bin" / "mealytics"


def _env(tmp_path: Path, source: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEALYTICS_")},
        "MEALYTICS_SOURCE_URL": f"sqlite:///{source}",
        "MEALYTICS_WAREHOUSE": str(tmp_path / "data" / "warehouse.duckdb"),
        "DAGSTER_HOME": str(home),
        "NO_COLOR": "1",
        "COLUMNS": "200",
        **extra,
    }


def _one_line_end(output: str, *needles: str) -> str:
    assert "Traceback" not in output, output[-3000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith("mealytics: "), output[-3000:]
    for needle in needles:
        assert needle in last, last
    return last


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEALYTICS_WAREHOUSE_LOCK_TIMEOUT", "inf"),
        ("MEALYTICS_WAREHOUSE_LOCK_TIMEOUT", "ten"),
        ("MEALYTICS_DBT_KEEP_RUNS", "0"),
        ("MEALYTICS_DBT_KEEP_RUNS", "many"),
        ("MEALYTICS_AS_OF", "yesterday"),
        ("MEALYTICS_CONTENT_CHECK_EVERY", "often"),
        ("MEALYTICS_WAREHOUSE", "data/raw.duckdb"),
    ],
)
def test_a_bad_environment_value_is_one_line_naming_the_variable(
    variable, value, monkeypatch, tmp_path, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    code = cli.main(["-q", "run"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1, err
    _one_line_end(err, variable)


def test_a_damaged_warehouse_says_how_to_rebuild(small_source_file, tmp_path):
    env = _env(tmp_path, small_source_file)
    warehouse = Path(env["MEALYTICS_WAREHOUSE"])
    warehouse.parent.mkdir(parents=True)
    warehouse.write_bytes(b"\x13" * 300_000)
    done = subprocess.run(
        [str(MEALYTICS), "-q", "run", "--as-of", AS_OF],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1
    _one_line_end(done.stdout + done.stderr, str(warehouse), "--full-refresh", "move it aside")


def test_a_damaged_dagster_storage_names_the_folder(small_source_file, tmp_path):
    env = _env(tmp_path, small_source_file)
    home = Path(env["DAGSTER_HOME"])
    (home / "history").mkdir()
    (home / "history" / "runs.db").write_bytes(b"\x42" * 50_000)
    done = subprocess.run(
        [str(MEALYTICS), "-q", "run", "--as-of", AS_OF],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1
    _one_line_end(done.stdout + done.stderr, f"DAGSTER_HOME={home}", "aside")


@contextlib.contextmanager
def _tmpfs(path: Path, size: str, *options: str) -> Iterator[bool]:
    """A tmpfs at `path` (yields True), or nothing when this user may not mount (False)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs", str(path)],
        capture_output=True,
    ).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_read_only_warehouse_folder_is_one_line(small_source_file, tmp_path):
    folder = tmp_path / "ro"
    with _tmpfs(folder, "1m", "ro") as mounted:
        if not mounted:
            folder.chmod(0o500)  # not root: permissions hold
        env = _env(tmp_path, small_source_file, MEALYTICS_WAREHOUSE=str(folder / "w.duckdb"))
        done = subprocess.run(
            [str(MEALYTICS), "-q", "run", "--as-of", AS_OF],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 1
    _one_line_end(done.stdout + done.stderr, str(folder), "writable")


def test_a_full_disk_keeps_the_summary_and_names_the_file(small_source_file, tmp_path):
    folder = tmp_path / "full"
    # 12 MB: dbt's parse (4.3 MB) fits, the warehouse (17 MB when built) does not.
    with _tmpfs(folder, "12m") as mounted:
        env = _env(tmp_path, small_source_file, MEALYTICS_WAREHOUSE=str(folder / "w.duckdb"))

        def limit() -> None:  # not root: writes past 4 MB fail (EFBIG)
            if not mounted:
                resource.setrlimit(resource.RLIMIT_FSIZE, (12 * 2**20, 12 * 2**20))

        done = subprocess.run(
            [str(MEALYTICS), "-q", "run", "--as-of", AS_OF],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
            preexec_fn=limit,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert "run " in output and " failed" in output  # the summary was printed
    _one_line_end(output, "space" if mounted else "size")


def _materialized(home: Path) -> int:
    dbs = [p for p in glob.glob(f"{home}/history/runs/*.db") if not p.endswith("index.db")]
    if not dbs:
        return 0
    try:
        con = sqlite3.connect(f"file:{dbs[0]}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(
                "select count(*) from event_logs where dagster_event_type = "
                "'ASSET_MATERIALIZATION'"
            ).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize(("sig", "after", "code"), [("SIGINT", 3, 130), ("SIGTERM", 30, 143)])
def test_a_signal_stops_the_run_with_its_exit_code(
    sig, after, code, small_source_file, tmp_path
):
    """SIGINT once 3 raw tables are in (inside the extraction), SIGTERM once the dbt build
    materialized a few models: the run stops, says `mealytics: interrupted`, exits 130/143."""
    env = _env(tmp_path, small_source_file)
    home = Path(env["DAGSTER_HOME"])
    out = tmp_path / "out.txt"
    with open(out, "w") as sink:
        proc = subprocess.Popen(
            [str(MEALYTICS), "-q", "run", "--as-of", AS_OF],
            cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 300
    at_signal = None
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if at_signal is None and _materialized(home) >= after:
                at_signal = _materialized(home)
                os.kill(proc.pid, getattr(signal, sig))
            time.sleep(0.005)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = out.read_text()
    assert at_signal is not None, output[-3000:]
    assert proc.returncode == code, output[-3000:]
    _one_line_end(output, "interrupted")
    assert _materialized(home) <= at_signal + 2  # stopped, not run to the end
