"""No two runs on the warehouse at once: the lock file beside it, held by a real second process.

The holder is another Python process that takes `<warehouse>.lock` the way a run does
(`pipelines.warehouse_lock`), as `mealytics run` in one terminal and a scheduled run of
`dagster dev` would. The runs here are the raw layer of the small hand-made source.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id
from extract_support import HandSource

from pipelines import run
from pipelines.defs.raw import build_raw_defs
from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.defs.schedules import all_assets_job
from pipelines.warehouse_lock import (
    WarehouseLockTimeout,
    lock_path,
    warehouse_lock,
)

ROOT = Path(__file__).resolve().parents[2]
HOLDER = "run other-run"


class Holder:
    """A second process holding the warehouse's lock until released (or for `hold_s`)."""

    def __init__(self, warehouse: Path, hold_s: float | None = None) -> None:
        code = textwrap.dedent(
            f"""
            import sys, time
            from pipelines.warehouse_lock import warehouse_lock
            with warehouse_lock({str(warehouse)!r}, owner={HOLDER!r}, timeout_s=0):
                print("held", flush=True)
                if {hold_s!r} is None:
                    sys.stdin.readline()
                else:
                    time.sleep({hold_s!r})
            """
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "held"

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
        self.process.wait(timeout=10)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def source(tmp_path) -> HandSource:
    src = HandSource(f"sqlite:///{tmp_path / 'source.db'}")
    src.populate()
    return src


def raw_job(url: str, warehouse: Path, **options) -> dg.JobDefinition:
    resources = {
        "source": SourceDatabase(url=url),
        "warehouse": Warehouse(path=str(warehouse), **options),
    }
    return build_raw_defs(resources=resources).resolve_implicit_global_asset_job_def()


def user_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id) if e.dagster_event is None]


def materialized(instance: dg.DagsterInstance, run_id: str) -> list:
    return [
        e
        for e in instance.all_logs(run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
    ]


def test_a_run_waits_for_the_run_holding_the_lock_then_proceeds(source, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    job = raw_job(source.url, warehouse, lock_timeout_s=60)
    instance = dg.DagsterInstance.ephemeral()
    run_id = make_new_run_id()
    holder = Holder(warehouse)
    results = []
    thread = threading.Thread(
        target=lambda: results.append(job.execute_in_process(instance=instance, run_id=run_id))
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not any(m.startswith("waiting for") for m in user_messages(instance, run_id)):
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.05)
        time.sleep(0.3)  # it keeps waiting: nothing happens while the other run holds the lock
        assert not materialized(instance, run_id)
        assert not warehouse.exists()
    finally:
        holder.release()
        thread.join(timeout=60)
    (result,) = results
    assert result.success
    assert materialized(instance, run_id)
    messages = user_messages(instance, run_id)
    waiting = [m for m in messages if m.startswith("waiting for the warehouse lock")]
    assert len(waiting) == 1
    assert f"held by {HOLDER} / pid {holder.pid} since " in waiting[0]
    assert any(m.startswith("warehouse lock acquired after") for m in messages)
    # The lock file names nobody once the run is over.
    assert lock_path(warehouse).read_text() == ""


def test_a_run_gives_up_after_the_timeout_naming_the_holder(source, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    job = raw_job(source.url, warehouse, lock_timeout_s=0.5)
    holder = Holder(warehouse)
    try:
        result = job.execute_in_process(raise_on_error=False)
    finally:
        holder.release()
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE")
    error = failure.event_specific_data.error.to_string()
    assert "WarehouseLockTimeout" in error
    assert f"is in use by {HOLDER} / pid {holder.pid}" in error
    assert "MEALYTICS_WAREHOUSE_LOCK_TIMEOUT" in error
    assert not result.get_asset_materialization_events()
    assert not warehouse.exists()  # not even opened


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    holder = Holder(warehouse)
    with pytest.raises(WarehouseLockTimeout, match=f"in use by {HOLDER} / pid {holder.pid}"):
        with warehouse_lock(warehouse, timeout_s=0.2):
            pass
    holder.kill()  # a run killed -9 mid-way: the OS drops its lock
    with warehouse_lock(warehouse, owner="run next", timeout_s=0):
        assert lock_path(warehouse).read_text().startswith(f"run next / pid {os.getpid()} ")
    assert lock_path(warehouse).stat().st_mode & 0o777 == 0o600


def test_mealytics_run_says_whom_it_waits_for_and_fails_clearly(source, tmp_path):
    from rich.console import Console

    warehouse = tmp_path / "w.duckdb"
    defs = dg.Definitions.merge(
        build_raw_defs(
            resources={
                "source": SourceDatabase(url=source.url),
                # MEALYTICS_WAREHOUSE_LOCK_TIMEOUT=0.3, as the settings pass it down
                "warehouse": Warehouse(path=str(warehouse), lock_timeout_s=0.3),
            }
        ),
        dg.Definitions(jobs=[all_assets_job()]),
    )
    console = Console(record=True, width=300)
    holder = Holder(warehouse)
    try:
        with pytest.raises(WarehouseLockTimeout, match=f"in use by {HOLDER} / pid {holder.pid}"):
            run.execute(
                defs=defs, instance=dg.DagsterInstance.ephemeral(), console=console, progress=False
            )
    finally:
        holder.release()
    text = console.export_text()
    assert f"waiting for the warehouse lock held by {HOLDER} / pid {holder.pid}" in text
    assert "giving up after 0.3 s" in text


def test_the_lock_nests_in_the_thread_that_holds_it(tmp_path):
    # `mealytics run` holds it around its Dagster run, whose `warehouse` resource takes it too.
    warehouse = tmp_path / "w.duckdb"
    with warehouse_lock(warehouse, owner="run outer"):
        with warehouse_lock(warehouse, owner="run inner", timeout_s=0):
            assert lock_path(warehouse).read_text().startswith("run outer / pid ")
        assert lock_path(warehouse).read_text().startswith("run outer / pid ")
    assert lock_path(warehouse).read_text() == ""
    # Another thread of this process waits like another process would.
    with warehouse_lock(warehouse, owner="run outer"):
        outcome = []

        def other_thread():
            try:
                with warehouse_lock(warehouse, timeout_s=0.2):
                    outcome.append("acquired")
            except WarehouseLockTimeout as exc:
                outcome.append(str(exc))

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(timeout=10)
    assert len(outcome) == 1 and "is in use by run outer / pid" in outcome[0]
