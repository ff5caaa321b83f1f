"""A real crash: the extracting process is SIGKILLed mid-table, then the next run converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
from extract_support import HandSource, assert_equal

from pipelines.extract import extract_all

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys, time
    from pipelines.extract import ExtractOptions, Source, extract_all

    def slow(batch):
        print("batch", flush=True)
        time.sleep(0.05)

    extract_all(Source(sys.argv[1], batch_rows=4), sys.argv[2],
                options=ExtractOptions(on_batch=slow), tables=["orders_order"])
    print("finished", flush=True)
    """
)


def test_sigkill_mid_table_then_rerun_converges(tmp_path):
    source = HandSource(f"sqlite:///{tmp_path / 'source.db'}")
    source.populate()
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse).ok
    source.change()

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, source.url, warehouse],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    batches = 0
    for line in child.stdout:
        batches += line.startswith("batch")
        if batches == 5:  # the 74 changed-window rows come in ~19 batches of 4
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    con = duckdb.connect(warehouse)
    # The killed transaction left nothing behind: the previous run's rows and watermark.
    assert con.execute("SELECT count(*) FROM raw.orders_order").fetchall() == [(120,)]
    assert con.execute(
        "SELECT rows_inserted FROM meta._sync_state WHERE table_name = 'orders_order'"
    ).fetchall() == [(120,)]
    con.close()

    rerun = extract_all(source.url, warehouse)
    assert rerun.ok, rerun.errors
    r = rerun.results["orders_order"]
    assert (r.rows_inserted, r.rows_updated, r.rows_deleted, r.row_count) == (10, 4, 2, 128)
    assert_equal(source.url, warehouse)
