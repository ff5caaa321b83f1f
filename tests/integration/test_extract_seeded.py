"""Extraction of a seeded demo source (`seeds.generate`): every one of the 23 tables."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
import sqlalchemy as sa
from extract_support import assert_equal, warehouse_rows

import seeds
from models.schema import metadata
from pipelines.extract import extract_all

ALL = tuple(sorted(metadata.tables))


def generate(url: str) -> None:
    seeds.generate(
        url, customers=40, days=20, seed=3, start=dt.date(2026, 1, 1), force=True, progress=False
    )


def change(url: str) -> None:
    """seeds.advance when it works; until then, a few changes of our own."""
    try:
        seeds.advance(url, days=2, progress=False)
        return
    except seeds.errors.SourceError:
        pass
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE orders_order SET status = 'cancelled', updated_at = :u WHERE id IN (1, 2)"
            ),
            {"u": dt.datetime(2027, 1, 1, tzinfo=dt.UTC)},
        )
        conn.execute(sa.text("DELETE FROM orders_orderitem WHERE id IN (3, 4)"))
    engine.dispose()


def check_all(url: str, warehouse: str, report) -> None:
    assert report.ok, report.errors
    assert sorted(report.results) == list(ALL)  # seeds_simulation is excluded
    assert_equal(url, warehouse, tables=ALL)


def run_twice(url: str, warehouse: str) -> None:
    check_all(url, warehouse, extract_all(url, warehouse))
    con = duckdb.connect(warehouse, read_only=True)
    schemas = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert "seeds_simulation" not in schemas
    change(url)
    check_all(url, warehouse, extract_all(url, warehouse))
    before = {t: warehouse_rows(warehouse, t) for t in ALL}
    quiet = extract_all(url, warehouse)
    assert {(r.rows_inserted, r.rows_updated, r.rows_deleted) for r in quiet.results.values()} == {
        (0, 0, 0)
    }
    assert {t: warehouse_rows(warehouse, t) for t in ALL} == before


def test_seeded_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    generate(url)
    run_twice(url, str(tmp_path / "w.duckdb"))


@pytest.mark.postgres
def test_seeded_postgres(postgres_url, tmp_path):
    generate(postgres_url)
    run_twice(postgres_url, str(tmp_path / "w.duckdb"))
