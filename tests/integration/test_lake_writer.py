"""The lake writer (`pipelines.lake`) on a small hand-made source extracted for real: after a
full write and after rounds of inserts, updates and deletes (and crashes between writing
and renaming), each table's Parquet files hold exactly raw's rows, and a round rewrote only
the buckets whose keys changed (found here from raw before and after, not from the log)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from extract_support import TABLES, HandSource

from pipelines import lake
from pipelines.extract import RetryPolicy, Source, extract_tables

NO_PAUSE = RetryPolicy(retries=0, first_pause_s=0, sleep=lambda _: None, log=lambda _: None)
ROWS_PER_FILE = 16


@pytest.fixture
def setup(tmp_path):
    src = HandSource(f"sqlite:///{tmp_path / 'source.db'}")
    src.populate(users=30, orders=120)
    warehouse = tmp_path / "w.duckdb"
    keys = _extract(src.url, warehouse)
    return src, warehouse, tmp_path / "lake", keys


def _extract(url: str, warehouse: Path) -> dict[str, list[str]]:
    source = Source(url)
    try:
        plans = source.plans()
        for outcome in extract_tables(source, warehouse, plans, retry=NO_PAUSE):
            assert not hasattr(outcome, "error"), outcome
    finally:
        source.dispose()
    return {p.name: list(p.primary_key) for p in plans}


def _write(warehouse, lake_dir, keys, **options):
    return lake.write(warehouse, lake_dir, keys=keys, rows_per_file=ROWS_PER_FILE, **options)


def _assert_lake_equals_raw(warehouse: Path, lake_dir: Path) -> None:
    """Per table: the lake's files read by DuckDB's read_parquet equal raw.T as multisets
    (both EXCEPT ALL directions, and the counts), with raw's column names and types; the
    folder holds nothing but the manifest and the manifest's files."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        ]
        assert set(TABLES) <= set(tables)
        for table in tables:
            files = lake.data_files(lake_dir, table)
            assert files, table
            listing = ", ".join(f"'{f}'" for f in files)
            parquet = f"read_parquet([{listing}])"
            raw_types = con.execute(f"describe raw.{table}").fetchall()
            lake_types = con.execute(f"describe select * from {parquet}").fetchall()
            assert [r[:2] for r in lake_types] == [r[:2] for r in raw_types], table
            (raw_n,) = con.execute(f"select count(*) from raw.{table}").fetchone()
            (lake_n,) = con.execute(f"select count(*) from {parquet}").fetchone()
            assert lake_n == raw_n, table
            for a, b in ((f"raw.{table}", parquet), (parquet, f"raw.{table}")):
                (extra,) = con.execute(
                    f"select count(*) from (select * from {a} except all select * from {b})"
                ).fetchone()
                assert extra == 0, (table, a)
            manifest = lake.Manifest.load(lake.table_folder(lake_dir, table) / lake.MANIFEST)
            on_disk = {p.name for p in lake.table_folder(lake_dir, table).iterdir()}
            assert on_disk == manifest.names() | {lake.MANIFEST}, table
    finally:
        con.close()
    assert all(c.equal for c in lake.verify(warehouse, lake_dir).values())


def _snapshot(warehouse: Path, table: str) -> dict[int, tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {r[0]: r for r in con.execute(f"select * from raw.{table}").fetchall()}
    finally:
        con.close()


def _files(lake_dir: Path, table: str) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in lake.data_files(lake_dir, table)}


def _bucket_files(lake_dir: Path, table: str) -> dict[str, list[str]]:
    return lake.Manifest.load(lake.table_folder(lake_dir, table) / lake.MANIFEST).files


def _more_changes(src: HandSource, round_: int) -> None:
    """Updates of old and new orders, a deleted meal, new users."""
    src.insert("accounts_user", [src.user_row(100 + 10 * round_ + i) for i in range(3)])
    with src.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE orders_order SET status = 'delivered', updated_at = :u "
                "WHERE id IN (1, 40, 90)"
            ),
            {"u": src.tick().isoformat(sep=" ")},
        )
        conn.execute(sa.text("DELETE FROM menu_meal WHERE id = (SELECT max(id) FROM menu_meal)"))


def test_full_then_incremental_rounds_equal_raw_and_touch_only_changed_buckets(setup):
    src, warehouse, lake_dir, keys = setup
    done = lake.export_full(warehouse, lake_dir, keys=keys, rows_per_file=ROWS_PER_FILE)
    assert {r.mode for r in done.values()} == {"full"}
    _assert_lake_equals_raw(warehouse, lake_dir)
    manifest = lake.Manifest.load(lake.table_folder(lake_dir, "orders_order") / lake.MANIFEST)
    assert manifest.scheme == "range" and len(manifest.files) >= 7  # 120 orders, 16 a file
    # An empty source table keeps one empty file: its columns, for Spark.
    assert done["campaigns_campaign"].rows == 0
    assert len(lake.data_files(lake_dir, "campaigns_campaign")) == 1

    for round_ in range(3):
        before = {t: _snapshot(warehouse, t) for t in TABLES}
        files_before = {t: _files(lake_dir, t) for t in TABLES}
        buckets_before = {t: _bucket_files(lake_dir, t) for t in TABLES}
        src.change()
        _more_changes(src, round_)
        _extract(src.url, warehouse)
        result = _write(warehouse, lake_dir, keys)
        _assert_lake_equals_raw(warehouse, lake_dir)
        for table in TABLES:
            after = _snapshot(warehouse, table)
            changed = {
                k
                for k in before[table].keys() | after.keys()
                if before[table].get(k) != after.get(k)
            }
            width = lake.Manifest.load(lake.table_folder(lake_dir, table) / lake.MANIFEST).size
            expected = {str(k // width) for k in changed}
            buckets_after = _bucket_files(lake_dir, table)
            rewritten = {
                b for b, names in buckets_after.items() if buckets_before[table].get(b) != names
            }
            gone = set(buckets_before[table]) - set(buckets_after)
            if not changed:
                assert result[table].mode == "unchanged", table
                assert _files(lake_dir, table) == files_before[table], table
                continue
            assert result[table].mode == "incremental", (table, result[table])
            assert (rewritten | gone) - {lake.EMPTY} == expected, table
            # Every untouched bucket's file is the same file, not rewritten.
            for b, names in buckets_after.items():
                if b not in expected:
                    for name in names:
                        assert files_before[table][name] == _files(lake_dir, table)[name]

    # Idempotent: nothing changed, nothing written.
    files_before = {t: _files(lake_dir, t) for t in TABLES}
    again = _write(warehouse, lake_dir, keys)
    assert {r.mode for r in again.values()} == {"unchanged"}
    assert {t: _files(lake_dir, t) for t in TABLES} == files_before


class Crash(Exception):
    pass


@pytest.mark.parametrize("when", ["before_commit", "after_commit"])
def test_a_crash_between_writing_and_renaming_is_repaired_by_the_next_write(
    setup, monkeypatch, when
):
    src, warehouse, lake_dir, keys = setup
    lake.export_full(warehouse, lake_dir, keys=keys, rows_per_file=ROWS_PER_FILE)
    src.change()
    _more_changes(src, 0)
    _extract(src.url, warehouse)
    commit = lake._commit_manifest

    def crashing(folder, manifest):
        if folder.name == "orders_order":
            if when == "after_commit":
                commit(folder, manifest)
            raise Crash(when)
        commit(folder, manifest)

    monkeypatch.setattr(lake, "_commit_manifest", crashing)
    with pytest.raises(Crash):
        _write(warehouse, lake_dir, keys)
    folder = lake.table_folder(lake_dir, "orders_order")
    hidden = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert hidden  # the crash left temporary files
    monkeypatch.setattr(lake, "_commit_manifest", commit)
    result = _write(warehouse, lake_dir, keys)
    # Before the commit: the old state, the changes applied now; after it: rolled forward.
    expected = "incremental" if when == "before_commit" else "unchanged"
    assert result["orders_order"].mode == expected
    _assert_lake_equals_raw(warehouse, lake_dir)


def test_a_change_log_pruned_behind_the_lake_is_repaired_or_seen_by_verify(setup):
    src, warehouse, lake_dir, keys = setup
    _write(warehouse, lake_dir, keys)
    src.change()  # inserts, updates, deletes
    _extract(src.url, warehouse)
    con = duckdb.connect(str(warehouse))
    con.execute("delete from meta._changes")  # as dbt's prune on the duckdb target would
    con.close()
    result = _write(warehouse, lake_dir, keys)
    assert result["orders_order"].mode == "repaired"  # rows were inserted: counts differ
    # An update alone keeps the count: the write cannot see it, the content hash does.
    with sa.create_engine(src.url).begin() as conn:
        conn.execute(
            sa.text("UPDATE menu_meal SET name = 'renamed', updated_at = :u WHERE id = 1"),
            {"u": src.tick().isoformat(sep=" ")},
        )
    _extract(src.url, warehouse)
    con = duckdb.connect(str(warehouse))
    con.execute("delete from meta._changes")
    con.close()
    _write(warehouse, lake_dir, keys)
    checks = lake.verify(warehouse, lake_dir)
    assert not checks["menu_meal"].equal
    assert checks["menu_meal"].raw_rows == checks["menu_meal"].lake_rows
    lake.export_full(warehouse, lake_dir, keys=keys)  # the repair
    _assert_lake_equals_raw(warehouse, lake_dir)


def test_hash_buckets_follow_the_change_logs_row_key(tmp_path):
    """A table whose key is not one integer: buckets by the hash of the key's JSON text, the
    change log's own `row_key` (written here by `changes.key_exprs`)."""
    from pipelines.extract import changes
    from pipelines.extract import warehouse as wh
    from pipelines.extract.plan import ColumnPlan, TablePlan

    path = tmp_path / "w.duckdb"
    con = wh.connect(str(path))
    changes.ensure_table(con)
    con.execute("create table raw.t (code varchar, site bigint, price decimal(12,2))")
    con.execute("insert into raw.t select 'c' || i, i % 3, i * 1.25 from range(200) r(i)")
    plan = TablePlan(
        "t",
        (
            ColumnPlan("code", "text", "VARCHAR", "TEXT"),
            ColumnPlan("site", "integer", "BIGINT", "INTEGER"),
        ),
        ("code", "site"),
        "merge",
        None,
        "sqlite",
    )
    cols = wh.raw_columns(con, "t")
    row_id, row_key = changes.key_exprs(plan, cols, "r")
    con.execute(
        "insert into meta._changes (seq, table_name, op, recorded_at) values (1, 't', 'all', now())"
    )
    con.close()
    keys = {"t": ["code", "site"]}
    lake.write(path, tmp_path / "lake", keys=keys, rows_per_file=20)
    manifest = lake.Manifest.load(lake.table_folder(tmp_path / "lake", "t") / lake.MANIFEST)
    assert manifest.scheme == "hash" and manifest.size == 10
    before = _files(tmp_path / "lake", "t")

    con = wh.connect(str(path))
    con.execute(
        f"insert into meta._changes (seq, table_name, op, row_id, row_key, recorded_at) "
        f"select 2, 't', 'update', {row_id}, {row_key}, now() from raw.t r "
        "where code in ('c7', 'c8')"
    )
    con.execute("update raw.t set price = price + 1 where code in ('c7', 'c8')")
    con.close()
    result = lake.write(path, tmp_path / "lake", keys=keys, rows_per_file=20)
    assert result["t"].mode == "incremental" and 1 <= result["t"].buckets_written <= 2
    after = _files(tmp_path / "lake", "t")
    assert len(set(before) - set(after)) == result["t"].files_removed
    assert all(c.equal for c in lake.verify(path, tmp_path / "lake").values())


def test_spark_ignores_what_is_not_data():
    assert lake.is_data_file("b0000001-000000042-1a2b3c4d-0.parquet")
    for name in ("_manifest.json", ".b0000001-x-0.parquet", "._manifest.json.1234", "x.json"):
        assert not lake.is_data_file(name)
    assert os.sep not in lake.MANIFEST
