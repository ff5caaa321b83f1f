"""Source faults: bounded retries with backoff, then a clear failure, nothing half-written.

Through the real `raw_tables` asset (dg.materialize): an unreachable source, SQLite's
`database is locked` while another process holds an exclusive lock (released in time, and
held throughout), and a PostgreSQL backend terminated while it waits mid-table.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
from extract_support import assert_equal

import seeds
from models import TABLES
from pipelines.defs.raw import build_raw_defs, raw_run_config
from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.extract.retry import call_with_retries, is_transient, pauses

ALL = [t.name for t in TABLES]
FAST = {"retries": 3, "retry_pause_s": 0.2}  # pauses 0.2, 0.4, 0.8 s


def _materialize(url: str, warehouse, tables=None, before_run=None, **options):
    """Load the code location, then (`before_run`: the fault starts) run the raw assets."""
    resources = {"source": SourceDatabase(url=url), "warehouse": Warehouse(path=str(warehouse))}
    defs = build_raw_defs(url, resources=resources)
    if before_run is not None:
        before_run()
    assets = list(defs.assets)
    selection = [dg.AssetKey(["raw", t]) for t in tables] if tables else None
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets,
        resources=resources,
        selection=selection,
        run_config=raw_run_config(**{**FAST, **options}),
        instance=instance,
        raise_on_error=False,
    )
    result.retries = [
        e.user_message for e in instance.all_logs(result.run_id) if "; retry " in e.user_message
    ]
    return result


def _raw_tables(warehouse) -> set[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
    finally:
        con.close()


def test_backoff_doubles_and_only_transient_faults_are_retried():
    assert pauses(4, 0.5) == [0.5, 1.0, 2.0, 4.0]
    slept, calls = [], []

    def flaky(n):
        calls.append(n)
        if n < 2:
            raise OSError("database is locked")
        return "ok"

    assert call_with_retries(flaky, retries=3, first_pause_s=1, sleep=slept.append) == "ok"
    assert (calls, slept) == ([0, 1, 2], [1, 2])
    with pytest.raises(ValueError, match="bad value"):
        call_with_retries(
            lambda n: (_ for _ in ()).throw(ValueError("bad value")),
            retries=3,
            first_pause_s=1,
            sleep=slept.append,
        )
    assert not is_transient(ValueError("column total: DECIMAL(12,2) -> VARCHAR"))
    assert is_transient(RuntimeError("x")) is False


def test_unreachable_source_fails_clearly_after_bounded_retries(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    warehouse = tmp_path / "w.duckdb"
    began = time.monotonic()
    result = _materialize(url, warehouse)
    took = time.monotonic() - began
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "unavailable" in failure.message or "unavailable" in str(
        failure.event_specific_data.error
    )
    retries = result.retries
    assert len(retries) == 3, retries
    assert took >= sum(pauses(3, 0.2))
    assert not warehouse.exists() or _raw_tables(warehouse) <= {"_sync_state", "_deleted_rows"}


HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
db.execute("UPDATE orders_order SET updated_at = updated_at")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def _hold_lock(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_sqlite_lock_released_in_time_is_retried_and_loads(source_copy, tmp_path):
    url = f"sqlite:///{source_copy}"
    warehouse = tmp_path / "w.duckdb"
    # SQLite's own busy wait (5 s) runs out first, then a retry finds the lock gone.
    holders = []
    try:
        result = _materialize(
            url,
            warehouse,
            tables=["orders_order"],
            before_run=lambda: holders.append(_hold_lock(source_copy, 6.5)),
        )
    finally:
        holders[0].wait(timeout=30)
    assert result.success
    retries = result.retries
    assert retries and "database is locked" in retries[0]
    assert_equal(url, warehouse, tables=["orders_order"])


def test_sqlite_lock_held_throughout_fails_clearly_and_writes_nothing(source_copy, tmp_path):
    url = f"sqlite:///{source_copy}"
    warehouse = tmp_path / "w.duckdb"
    # A first good load; the failed one must leave exactly it.
    assert _materialize(url, warehouse, tables=["orders_order"]).success
    con = duckdb.connect(str(warehouse))
    before = con.execute("select count(*), max(updated_at) from raw.orders_order").fetchone()
    con.close()
    holders = []
    try:  # one retry: 5 s busy wait, 0.2 s pause, 5 s busy wait, then the failure
        result = _materialize(
            url,
            warehouse,
            tables=["orders_order", "menu_meal"],
            before_run=lambda: holders.append(_hold_lock(source_copy, 30)),
            retries=1,
        )
    finally:
        holders[0].kill()
        holders[0].wait()
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert "database is locked" in message
    assert len(result.retries) == 1
    con = duckdb.connect(str(warehouse), read_only=True)
    after = con.execute("select count(*), max(updated_at) from raw.orders_order").fetchone()
    con.close()
    assert after == before


def test_postgres_backend_terminated_while_waiting_is_retried(postgres_url, tmp_path):
    """A writer locks a table (ACCESS EXCLUSIVE, as a migration does); the extraction waits
    on it; an administrator terminates the waiting backend (the connection drops mid-read)
    and the lock goes. The work is retried on a new connection; raw equals the source."""
    seeds.generate(postgres_url, customers=30, days=5, seed=4)
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    locker = sa.create_engine(postgres_url).connect()
    terminated: list[int] = []

    def terminate_the_waiting_reader():
        deadline = time.monotonic() + 60
        with admin.connect() as conn:
            while time.monotonic() < deadline and not terminated:
                pids = (
                    conn.exec_driver_sql(
                        "select pid from pg_stat_activity where wait_event_type = 'Lock' "
                        "and datname = current_database() and pid <> pg_backend_pid()"
                    )
                    .scalars()
                    .all()
                )
                for pid in pids:
                    conn.exec_driver_sql(f"select pg_terminate_backend({pid})")
                    terminated.append(pid)
                time.sleep(0.05)
        locker.rollback()  # the lock goes: the retry can read

    watcher = threading.Thread(target=terminate_the_waiting_reader)

    def lock_and_watch():
        locker.begin()
        locker.exec_driver_sql("LOCK TABLE orders_order IN ACCESS EXCLUSIVE MODE")
        watcher.start()

    warehouse = tmp_path / "w.duckdb"
    try:
        result = _materialize(
            postgres_url, warehouse, tables=["orders_order", "menu_meal"], before_run=lock_and_watch
        )
    finally:
        watcher.join(timeout=90)
        locker.close()
        admin.dispose()
    assert terminated, "the reader never waited on the lock"
    assert result.success
    assert result.retries and "terminating connection" in result.retries[0]
    assert_equal(postgres_url, warehouse, tables=["orders_order", "menu_meal"])


def test_postgres_sessions_wait_a_bounded_time_for_locks(postgres_url):
    """Without lock_timeout a read behind a migration's lock would wait forever."""
    from pipelines.extract import Source

    seeds.generate(postgres_url, customers=5, days=2, seed=1)
    source = Source(postgres_url)
    try:
        with source.connected(), source.session() as session:
            got = session.fetch(
                sa.select(
                    sa.func.current_setting("lock_timeout"),
                    sa.func.current_setting("default_transaction_read_only"),
                )
            )
        with source.engine.connect() as conn:
            reflect = conn.execute(sa.select(sa.func.current_setting("lock_timeout"))).scalar()
    finally:
        source.dispose()
    assert [tuple(r) for r in got] == [("1min", "on")]
    assert reflect == "1min"
