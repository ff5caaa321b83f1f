"""Source faults: bounded retries with backoff, then a clear failure, nothing half-written.

Through the real `raw_tables` asset (dg.materialize): an unreachable source, SQLite's
`database is locked` while another process holds an exclusive lock (released in time, and
held throughout), a PostgreSQL backend terminated while it waits mid-table, and one
terminated after some batches of a table have streamed (retried from scratch; with no
retry left, nothing written).
"""

from __future__ import annotations

import sqlite3
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


def _materialize(url: str, warehouse, tables=None, before_run=None, resources=None, **options):
    """Load the code location, then (`before_run`: the fault starts) run the raw assets."""
    resources = resources or {
        "source": SourceDatabase(url=url),
        "warehouse": Warehouse(path=str(warehouse)),
    }
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


def _sqlite_busy(path) -> sqlite3.OperationalError:
    """A real SQLITE_BUSY: a second connection reads while the first holds an exclusive lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    reader = sqlite3.connect(path, timeout=0)
    try:
        reader.execute("SELECT * FROM t").fetchall()
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        reader.close()
        holder.close()
    raise AssertionError("the exclusive lock did not keep the reader out")


def test_backoff_doubles_and_only_transient_faults_are_retried(tmp_path):
    assert pauses(4, 0.5) == [0.5, 1.0, 2.0, 4.0]
    slept, calls = [], []
    busy = _sqlite_busy(tmp_path / "locked.db")

    def flaky(n):
        calls.append(n)
        if n < 2:
            raise busy
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
    # By class and code, never by message: the same words in another class do not count.
    assert not is_transient(OSError("database is locked"))


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
    assert not warehouse.exists() or _raw_tables(warehouse) == set()


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


class _DropAfterBatches:
    """An `on_batch` hook: when the first attempt's `after`-th batch reaches DuckDB, every
    other backend of the database is terminated from an admin connection (the server drops
    the extraction's connection mid-stream, rows already streamed). Counts the rows each
    attempt (each call of extract_table, see `_dropping_config`) handed DuckDB."""

    def __init__(self, url: str, after: int = 2):
        self.admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.after = after
        self.batches = 0
        self.terminated: list[int] = []
        self.rows_per_attempt: list[int] = []

    def __call__(self, batch) -> None:
        self.rows_per_attempt[-1] += batch.num_rows
        self.batches += 1
        if self.batches == self.after and not self.terminated:
            with self.admin.connect() as conn:
                self.terminated = (
                    conn.exec_driver_sql(
                        "select pid from pg_stat_activity, pg_terminate_backend(pid) "
                        "where datname = current_database() and pid <> pg_backend_pid() "
                        "and backend_type = 'client backend'"
                    )
                    .scalars()
                    .all()
                )


def _dropping_config(monkeypatch, hook) -> None:
    """The run's ExtractOptions (RawExtractConfig.options) with `hook` as on_batch; each
    attempt at a table (a call of extract_table) starts a new count in the hook."""
    import dataclasses

    from pipelines.defs.raw.assets import RawExtractConfig
    from pipelines.extract import replicate

    options = RawExtractConfig.options
    monkeypatch.setattr(
        RawExtractConfig,
        "options",
        lambda self, *args: dataclasses.replace(options(self, *args), on_batch=hook),
    )
    extract_table = replicate.extract_table

    def counted(*args, **kwargs):
        hook.rows_per_attempt.append(0)
        return extract_table(*args, **kwargs)

    monkeypatch.setattr(replicate, "extract_table", counted)


def _raw_and_state(warehouse, table: str):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return (
            con.execute(f"select count(*), sum(hash(t))::varchar from raw.{table} t").fetchone(),
            con.execute("select * from meta._sync_state where table_name = ?", [table]).fetchall(),
            con.execute("select count(*) from meta._deleted_rows").fetchone(),
        )
    finally:
        con.close()


def _pg_stream_resources(url: str, warehouse):
    # The portable reader streams a server-side cursor in `batch_rows` batches (ADBC's COPY
    # stream batches by megabytes: a small table is one batch, nothing left to drop).
    return {
        "source": SourceDatabase(url=url, batch_rows=5, reader="sqlalchemy"),
        "warehouse": Warehouse(path=str(warehouse)),
    }


def _materialize_streaming(url, warehouse, table, **options):
    resources = _pg_stream_resources(url, warehouse)
    return _materialize(url, warehouse, [table], resources=resources, **options)


def test_postgres_connection_dropped_mid_stream_is_retried_from_scratch(
    postgres_url, tmp_path, monkeypatch
):
    """The backend is terminated after two 5-row batches of orders_order reached DuckDB
    (the first copy was half streamed into raw's open transaction). The retry, on a new
    connection, reads the whole table again: its rows read equal the source's row count
    (not the remainder), and raw equals the source, with no row twice."""
    seeds.generate(postgres_url, customers=150, days=15, seed=11, start="2026-10-01")
    counter = sa.create_engine(postgres_url)
    with counter.connect() as conn:
        source_rows = conn.exec_driver_sql("select count(*) from orders_order").scalar()
    counter.dispose()
    assert source_rows >= 100  # far more batches than the reader's queue holds ahead
    hook = _DropAfterBatches(postgres_url, after=2)
    _dropping_config(monkeypatch, hook)
    warehouse = tmp_path / "w.duckdb"
    try:
        result = _materialize_streaming(postgres_url, warehouse, "orders_order")
    finally:
        hook.admin.dispose()
    assert hook.terminated, "no backend to terminate"
    assert result.success
    # The backend's notice ("terminating connection due to administrator command") may
    # arrive or not before the socket closes, depending on timing: either is the drop.
    assert len(result.retries) == 1
    assert any(
        sign in result.retries[0].lower()
        for sign in ("terminating connection", "server closed the connection unexpectedly")
    ), result.retries
    # The dropped attempt handed DuckDB some batches (those read ahead before the drop),
    # not all; the retry streamed the table again from its first row.
    assert 10 <= hook.rows_per_attempt[0] < source_rows
    assert hook.rows_per_attempt[1] == source_rows and len(hook.rows_per_attempt) == 2
    [materialization] = result.get_asset_materialization_events()
    metadata = materialization.materialization.metadata
    assert metadata["rows_read"].value == metadata["rows_inserted"].value == source_rows
    assert_equal(postgres_url, warehouse, tables=["orders_order"])


def test_postgres_connection_dropped_mid_stream_without_retries_changes_nothing(
    postgres_url, tmp_path, monkeypatch
):
    """retries=0: a full refresh whose connection drops after two batches fails the run,
    and raw.orders_order, its _sync_state row (watermark, counts) and the deletion audit
    trail stay exactly as the previous good load left them, though the source changed."""
    seeds.generate(postgres_url, customers=150, days=15, seed=11, start="2026-10-01")
    warehouse = tmp_path / "w.duckdb"
    assert _materialize_streaming(postgres_url, warehouse, "orders_order").success
    before = _raw_and_state(warehouse, "orders_order")
    writer = sa.create_engine(postgres_url)
    with writer.begin() as conn:  # changes the failed run must not apply
        conn.exec_driver_sql(
            "update orders_order set loyalty_points_used = loyalty_points_used + 1, "
            "updated_at = now() where id <= 3"
        )
    writer.dispose()
    hook = _DropAfterBatches(postgres_url, after=2)
    _dropping_config(monkeypatch, hook)
    try:
        result = _materialize_streaming(
            postgres_url, warehouse, "orders_order", retries=0, full_refresh=True
        )
    finally:
        hook.admin.dispose()
    assert hook.terminated and not result.success and result.retries == []
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = str(failure.event_specific_data.error).lower()
    # libpq words the lost connection by where it was when the server went away (a loaded
    # machine hit the second): any of them, from the driver, names the step's failure.
    assert "operationalerror" in error and any(words in error for words in (
        "terminating connection", "server closed the connection", "consuming input failed",
        "connection to server", "ssl connection has been closed", "the connection is closed",
    )), error
    assert len(hook.rows_per_attempt) == 1 and 10 <= hook.rows_per_attempt[0] < 134
    assert _raw_and_state(warehouse, "orders_order") == before
    # The watermark did not move: the next run (no drop this time) picks the changes up.
    assert _materialize_streaming(postgres_url, warehouse, "orders_order").success
    assert_equal(postgres_url, warehouse, tables=["orders_order"])
