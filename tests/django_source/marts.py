"""dbt on a warehouse, and the marts of two warehouses compared row by row."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
#: dbt of the interpreter running the tests (a worktree shares the main checkout's venv).
DBT = Path(sys.executable).with_name("dbt")


def build_marts(warehouse: Path, as_of: dt.date) -> None:
    """Seeds, snapshots and models of `dbt build` on `warehouse`, as of `as_of`.

    The data tests are left out: this compares what the marts hold, and a test failing on
    a stale warehouse would skip the marts below it. Artifacts go beside the warehouse.
    """
    env = {
        **os.environ,
        "MEALYTICS_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": str(warehouse.parent / "dbt_target"),
        "DBT_LOG_PATH": str(warehouse.parent / "dbt_logs"),
    }
    command = [
        str(DBT), "build", "--exclude-resource-type", "test", "unit_test",
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--vars", json.dumps({"as_of": as_of.isoformat()}),
    ]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"dbt build on {warehouse.name} failed:\n{result.stdout[-4000:]}")


def _marts(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = 'marts' ORDER BY table_name, ordinal_position",
        [catalog],
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        out.setdefault(table, []).append((column, kind))
    return out


def mart_differences(incremental: Path, clean: Path, *, sample: int = 3) -> list[str]:
    """Nothing when every mart holds the same multiset of rows in both warehouses; else a
    line per mart that is missing, has other columns, or other rows (counts and a few
    rows each way)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{incremental}' AS inc (READ_ONLY)")
        con.execute(f"ATTACH '{clean}' AS clean (READ_ONLY)")
        con.execute("SET TimeZone = 'UTC'")
        mine, theirs = _marts(con, "inc"), _marts(con, "clean")
        if not theirs:
            return ["the clean build has no marts"]
        lines = [f"{t}: not built incrementally" for t in sorted(theirs.keys() - mine)]
        lines += [f"{t}: only on the incremental warehouse" for t in sorted(mine.keys() - theirs)]
        for table in sorted(set(mine) & set(theirs)):
            if mine[table] != theirs[table]:
                lines.append(f"{table}: columns {mine[table]} ≠ clean {theirs[table]}")
                continue
            a, b = f'inc.marts."{table}"', f'clean.marts."{table}"'
            only_inc = con.execute(f"FROM {a} EXCEPT ALL FROM {b}").fetchall()
            only_clean = con.execute(f"FROM {b} EXCEPT ALL FROM {a}").fetchall()
            if only_inc or only_clean:
                names = [c for c, _ in mine[table]]
                lines.append(
                    f"{table} ({', '.join(names)}): {len(only_inc)} row(s) only in the "
                    f"incremental build, {len(only_clean)} only in the clean build"
                )
                lines += [f"  incremental: {r}" for r in only_inc[:sample]]
                lines += [f"  clean:       {r}" for r in only_clean[:sample]]
        return lines
    finally:
        con.close()
