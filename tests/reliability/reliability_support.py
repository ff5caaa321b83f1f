"""Constants and helpers shared by the reliability tests and benchmarks/crash_soak.py."""

from __future__ import annotations

from pathlib import Path

#: The marts' date of the shared build (the small source spans 2026-10-01 … 10-15).
AS_OF = "2026-10-14"
#: Seeds and models, not the dbt tests (tests/integration runs those).
BUILD = ("build", "--exclude", "resource_type:test", "resource_type:unit_test")


def mart_hashes(warehouse: Path) -> dict[str, tuple[int, str]]:
    """{mart: (rows, order-independent hash of every row)} of the marts: the tables of schema
    marts in a build file, its views (over Parquet) in the published catalog."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        marts = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'marts' AND table_type IN ('BASE TABLE', 'VIEW') "
                "ORDER BY 1"
            ).fetchall()
        ]
        return {
            m: con.execute(
                f'SELECT count(*), coalesce(sum(hash(t)), 0)::VARCHAR FROM marts."{m}" t'
            ).fetchone()
            for m in marts
        }
    finally:
        con.close()
