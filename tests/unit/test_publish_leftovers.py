"""A publisher killed between writing its temporary and renaming it leaves the temporary:
the next publisher removes it, and only temporaries of processes that are gone."""

from __future__ import annotations

import subprocess
import sys

from pipelines.publish import leftovers


def test_sweep_removes_only_dead_writers_temporaries(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: no process has this pid now
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        names = {
            "dead": f".published.duckdb.{gone.pid}.tmp",
            "dead_wal": f".published.duckdb.{gone.pid}.tmp.wal",
            "alive": f".published.duckdb.{alive.pid}.tmp",
            "other_final": f".dashboard.html.{gone.pid}.tmp",
            "final": "published.duckdb",
            "lookalike": f"published.duckdb.{gone.pid}.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"x")
        removed = leftovers.sweep(tmp_path, {"published.duckdb"})
        assert sorted(p.name for p in removed) == sorted([names["dead"], names["dead_wal"]])
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == sorted(
            [names["alive"], names["other_final"], names["final"], names["lookalike"]]
        )
        # Without a name filter (the Parquet folder): every dead writer's temporary goes.
        assert [p.name for p in leftovers.sweep(tmp_path)] == [names["other_final"]]
    finally:
        alive.kill()
        alive.wait()
