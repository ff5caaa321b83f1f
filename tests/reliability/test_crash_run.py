"""Crash safety of the real command: `mealytics run` SIGKILLed at three points, then rerun.

test_crash_safety.py kills a bare `extract_all` child and a bare `dbt build`; here the
victim is the REAL command, `.venv/bin/mealytics run --as-of AS_OF` (one process running
the Dagster job in process, dbt its child), started in a session of its own so that the
whole process group (dbt included) gets the SIGKILL. The source is the suite's small
generated one; the warehouse, the Dagster instance (a real `dagster.yaml`, so the run's
event log is a SQLite file) and the published files live in the test's folder.

Four runs on one warehouse, the first three SIGKILLed at points that are detected, not
timed: the test polls the run's Dagster event log (history/runs/<run id>.db) or the publish
folder every few milliseconds and kills as soon as the condition holds:

1. extraction: a first run (EMPTY warehouse), killed once raw materializations of at least
   EXTRACTED tables are in the event log (each is written after its table's COMMIT), so
   inside a later table's extraction or between two tables;
2. dbt: the next run, killed once its `dbt build` materialized MARTS_DONE marts;
3. publishing: the next run, killed while its new version is half built: its Parquet
   files written, its catalog or dashboard being written (`versions/<id>` is then a
   symlink to the temporary folder), a previous publication being in place.

After each kill the test proves that it hit the point (the step never succeeded; raw's
sync state, or the marts, partial) and that no process of the run survives; a run that ends
before its kill point fails the test. Each run after a kill is that kill's rerun, checked on
what it completed before its own kill (its extraction: raw equal to the source row by row;
its dbt build: every mart equal to the suite's clean build) and never waiting for the
warehouse lock (the killed holder's `flock` died with it). The fourth run must exit 0 with
raw equal to the source, every mart equal to the clean build, and the published catalog,
opened read-only, equal to those marts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from extract_support import assert_equal
from reliability_support import AS_OF, mart_hashes

from models import TABLES
from pipelines.warehouse_lock import lock_path

ROOT = Path(__file__).resolve().parents[2]
MEALYTICS = ROOT / ".venv" / "bin" / "mealytics"
ALL = [t.name for t in TABLES]

#: Kill once this many raw tables were committed (of len(ALL)): inside the extraction.
EXTRACTED = 8
#: Kill once this run's dbt build materialized this many marts.
MARTS_DONE = 5
#: Seconds a run may take to reach its kill point, and a rerun to finish.
KILL_TIMEOUT_S = 300
RUN_TIMEOUT_S = 420
POLL_S = 0.005


@pytest.fixture(scope="module")
def clean_marts(built_warehouse) -> dict[str, tuple[int, str]]:
    """The mart hashes of the suite's clean build (extract_all, then dbt build)."""
    expected = mart_hashes(built_warehouse)
    assert len(expected) >= 20
    return expected


@pytest.fixture
def scene_dir(tmp_path) -> Iterator[Path]:
    """The run's folder: in memory (/dev/shm) when it has room, else the test's folder.

    A SIGKILL does not lose what the kernel already has, so tmpfs changes nothing about
    crash safety; it spares the Dagster instance's SQLite event log (about 2,000 events a
    run, each a commit) a disk sync per event, which on a busy CI disk doubles a run.
    """
    shm = Path("/dev/shm")
    # The scene holds about 100 MB; a container's default /dev/shm is 64 MB.
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2**30:
        root = Path(tempfile.mkdtemp(prefix="mealytics-crash-", dir=shm))
        try:
            yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)
    else:
        yield tmp_path


class Scene:
    """One warehouse, Dagster instance and publish folder for `mealytics run`."""

    def __init__(self, root: Path, source: Path) -> None:
        self.root = root
        self.url = f"sqlite:///{source}"
        self.warehouse = root / "data" / "warehouse.duckdb"
        self.warehouse.parent.mkdir(parents=True)
        self.publish = root / "published"
        self.published = self.publish / "published.duckdb"
        self.home = root / "dagster_home"
        self.home.mkdir()
        (self.home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MEALYTICS_") and k not in ("FORCE_COLOR", "DAGSTER_HOME")
        }
        self.env = {
            **env,
            "MEALYTICS_SOURCE_URL": self.url,
            "MEALYTICS_WAREHOUSE": str(self.warehouse),
            "MEALYTICS_PUBLISH_DIR": str(self.publish),
            "DAGSTER_HOME": str(self.home),
            # A lock left held would fail the rerun in seconds, not wait an hour.
            "MEALYTICS_WAREHOUSE_LOCK_TIMEOUT": "10",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "TERM": "dumb",
        }
        self.runs = 0

    def start(self) -> tuple[subprocess.Popen, Path]:
        self.runs += 1
        out = self.root / f"run-{self.runs}.out"
        with open(out, "w") as sink:
            # cwd: the scene's folder, so no `.env` of the repository is read
            proc = subprocess.Popen(
                [str(MEALYTICS), "run", "--as-of", AS_OF],
                cwd=self.root,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: dbt dies with it
            )
        return proc, out

    def run(self) -> tuple[int, str]:
        proc, out = self.start()
        try:
            proc.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"the rerun took over {RUN_TIMEOUT_S} s:\n{out.read_text()[-3000:]}")
        return proc.returncode, out.read_text()


class EventLog:
    """The Dagster event log of the only run of a fresh instance, read as it grows."""

    def __init__(self, home: Path) -> None:
        self.runs = home / "history" / "runs"
        #: the event logs of earlier runs of the instance
        self.earlier = set(self.runs.glob("*.db")) if self.runs.is_dir() else set()
        self.con: sqlite3.Connection | None = None
        self.last = 0
        #: (event type, step key, asset key path or None), in order
        self.events: list[tuple[str | None, str | None, tuple[str, ...] | None]] = []

    def poll(self) -> list:
        if self.con is None:
            dbs = [
                p for p in self.runs.glob("*.db") if p.name != "index.db" and p not in self.earlier
            ]
            if not dbs:
                return self.events
            assert len(dbs) == 1, dbs
            self.con = sqlite3.connect(f"file:{dbs[0]}?mode=ro", uri=True, timeout=2)
        try:
            rows = self.con.execute(
                "select id, dagster_event_type, step_key, asset_key from event_logs "
                "where id > ? order by id",
                (self.last,),
            ).fetchall()
        except sqlite3.OperationalError:  # not created yet, or busy: next poll
            return self.events
        for id_, kind, step, asset in rows:
            self.last = id_
            self.events.append((kind, step, tuple(json.loads(asset)) if asset else None))
        return self.events

    def close(self) -> None:
        if self.con is not None:
            self.con.close()

    def count(self, layer: str) -> int:
        """Assets of `layer` materialized so far (read now)."""
        self.poll()
        return len(self.materialized(layer))

    def materialized(self, layer: str) -> list[str]:
        return [a[-1] for k, _, a in self.events if k == "ASSET_MATERIALIZATION" and a[0] == layer]

    def succeeded(self, step_prefix: str) -> list[str]:
        return [
            s for k, s, _ in self.events if k == "STEP_SUCCESS" and s and s.startswith(step_prefix)
        ]

    def started(self, step_prefix: str) -> list[str]:
        return [
            s for k, s, _ in self.events if k == "STEP_START" and s and s.startswith(step_prefix)
        ]

    def failed(self) -> list[str]:
        return [s or "run" for k, s, _ in self.events if k in ("STEP_FAILURE", "RUN_FAILURE")]

    def run_succeeded(self) -> bool:
        return any(k in ("PIPELINE_SUCCESS", "RUN_SUCCESS") for k, _, _ in self.events)


def _survivors(root: Path) -> list[str]:
    """Live processes whose environment names the scene (the run and all it started)."""
    marker = str(root).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X") or marker not in (entry / "environ").read_bytes():
                continue
            found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:200]!r}")
        except (OSError, IndexError):
            continue
    return found


def _kill_at(scene: Scene, label: str, reached: Callable[[EventLog], bool]) -> tuple[EventLog, int]:
    """Start `mealytics run`, SIGKILL its process group once `reached`: (final log, pid)."""
    log = EventLog(scene.home)
    proc, out = scene.start()
    deadline = time.monotonic() + KILL_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"`mealytics run` ended (exit {proc.returncode}) before the kill point "
                    f"'{label}': the point was not reached, nothing was tested.\n"
                    + out.read_text()[-3000:]
                )
            if reached(log):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"'{label}' not reached within {KILL_TIMEOUT_S} s")
            time.sleep(POLL_S)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, proc.returncode
        # Every process of the run (dbt included) is gone before the rerun starts.
        deadline = time.monotonic() + 15
        while (alive := _survivors(scene.root)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive, f"processes of the killed run still alive: {alive}"
        log.poll()  # what the run wrote before it died
        _no_lock_wait(out)  # the previous kill's lock did not hold this run up
        return log, proc.pid
    finally:
        log.close()


def _no_lock_wait(out: Path | str) -> None:
    text = out.read_text() if isinstance(out, Path) else out
    assert "waiting for the warehouse lock" not in text, text[-2000:]


def _final_run_and_check(scene: Scene, clean_marts: dict, killed_pid: int) -> None:
    holder = lock_path(scene.warehouse).read_text()
    # The lock file still names the killed run as its holder: the name must not matter.
    assert f"/ pid {killed_pid} " in holder, holder
    code, out = scene.run()
    assert code == 0, out[-4000:]
    _no_lock_wait(out)
    assert_equal(scene.url, scene.warehouse, tables=ALL)
    assert mart_hashes(scene.warehouse) == clean_marts
    published = duckdb.connect(str(scene.published), read_only=True)
    try:
        manifest = {m for (m,) in published.execute("select mart from publish.manifest").fetchall()}
    finally:
        published.close()
    assert manifest == set(clean_marts)
    assert mart_hashes(scene.published) == clean_marts


def _synced_tables(warehouse: Path) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select count(*) from meta._sync_state").fetchone()[0]
    finally:
        con.close()


def test_run_killed_in_extraction_dbt_and_publishing_each_rerun_converges(
    small_source_file, built_warehouse, clean_marts, scene_dir
):
    """Four runs of the real command on one warehouse: three SIGKILLed, the last whole.

    Each run after a kill is the rerun of that kill and is checked on what it completed
    before its own kill point (its extraction: raw equal to the source; its dbt build: every
    mart equal to the clean build), the last one on everything. One warehouse for the four
    runs keeps the test at about three runs' time (a separate rerun per kill costs five).
    """
    from pipelines.publish.warehouse import publish_warehouse

    scene = Scene(scene_dir, small_source_file)
    # An earlier publication in place, as on any day but the first: readers hold it.
    previous = scene.root / "previous.duckdb"
    shutil.copy(built_warehouse, previous)
    publish_warehouse(previous, scene.published)
    previous.unlink()

    # 1. A first run, killed with some raw tables committed and others not.
    log, _ = _kill_at(scene, "extraction", lambda log: log.count("raw") >= EXTRACTED)
    assert not log.succeeded("raw_tables"), "killed after the extraction, not inside it"
    synced = _synced_tables(scene.warehouse)
    assert EXTRACTED <= synced < len(ALL), f"{synced} tables synced at the kill"
    print(f"killed in extraction: {synced} of {len(ALL)} raw tables committed")

    # 2. Its rerun extracts everything (raw = source), then is killed among the marts.
    log, _ = _kill_at(scene, "dbt", lambda log: log.count("marts") >= MARTS_DONE)
    assert log.succeeded("raw_tables") and not log.failed(), log.failed()
    assert not log.succeeded("dbt_models"), "killed after dbt, not inside it"
    assert MARTS_DONE <= len(log.materialized("marts")) < len(clean_marts)
    print(f"killed in dbt: {len(log.materialized('marts'))} marts materialized")
    assert_equal(scene.url, scene.warehouse, tables=ALL)

    # 3. Its rerun builds every mart (= the clean build), then is killed while the new
    #    version is half built (its Parquet written, `versions/<id>` a symlink to its
    #    temporary folder while the catalog and the dashboard are written); readers still
    #    find the previous complete version.
    versions = scene.publish / "publish" / "versions"
    log, killed_pid = _kill_at(
        scene, "publishing", lambda _: any(p.is_symlink() for p in versions.iterdir())
    )
    assert log.succeeded("dbt_models") and not log.failed(), log.failed()
    assert log.started("publish") and not log.succeeded("publish")
    assert not log.run_succeeded()
    print(f"killed while publishing: steps {log.started('publish')} started")
    assert_equal(scene.url, scene.warehouse, tables=ALL)
    assert mart_hashes(scene.warehouse) == clean_marts
    assert mart_hashes(scene.published) == clean_marts

    # 4. Its rerun: exit 0, raw = source, marts = clean build, published copy = marts.
    _final_run_and_check(scene, clean_marts, killed_pid)
    # The killed publisher's half-built version (its temporary folder and the symlink to it)
    # was swept by the final run's publisher (its process is gone), and the final run left
    # no temporary of its own.
    leftovers = sorted(p.name for p in scene.publish.rglob(".*.tmp*"))
    assert leftovers == [], leftovers
    left = sorted(versions.iterdir())
    assert not any(p.is_symlink() for p in left), left
    assert len(left) == 2, left  # the previous publication's and the final run's
    print(f"published versions after the final run: {[p.name for p in left]}")
