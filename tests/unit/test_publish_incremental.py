"""Publishing marts only, and only what changed (issue 16.3), on a small build file made here.

The build has a raw table with an email (which must not be published), a small mart, a
daily mart with DECIMAL, DATE and TIMESTAMPTZ columns, and a table macro with a default
parameter. Each test publishes it with `publish_version` (the dashboard, which needs the
real marts, is stubbed: tests/integration/test_publish.py renders it from a real build).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from pipelines.publish import parquet, version

EMAIL = "someone.private@example.com"


def _build(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema raw")
        con.execute(f"create table raw.accounts_user as select 1 as id, '{EMAIL}' as email")
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_daily as select (i % 2 + 1)::bigint as website_id, "
            "date '2026-01-01' + (i // 2)::int as business_date, "
            "(i * 1.25)::decimal(18, 2) as amount, "
            "timestamptz '2026-01-01 00:00:00+00' + to_hours(i) as updated_at "
            "from range(120) t(i)"
        )
        con.execute(
            "create table marts.dim_small as select i::integer as id, 'label ' || i as label, "
            "(i * 0.5)::decimal(9, 2) as value from range(10) t(i)"
        )
        con.execute(
            "create macro marts.total(w := null) as table select sum(amount) as total "
            "from marts.fct_daily where w is null or website_id = w"
        )
    finally:
        con.close()
    return path


def _change(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(sql)
    finally:
        con.close()


@pytest.fixture
def build(tmp_path, monkeypatch) -> Path:
    def dashboard(database, out):
        Path(out).write_text("<html></html>")

    monkeypatch.setattr(version, "write_dashboard", dashboard)
    return _build(tmp_path / "warehouse.duckdb")


def _query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _files(folder: Path) -> dict[str, int]:
    """{path under parquet/: inode} of a version's Parquet files."""
    root = folder / "parquet"
    return {str(p.relative_to(root)): p.stat().st_ino for p in sorted(root.rglob("*.parquet"))}


def test_the_catalog_holds_views_over_the_parquet_the_macros_and_the_manifest(build, tmp_path):
    info = version.publish_version(build, tmp_path / "out")
    folder = Path(info["path"])
    catalog = folder / "published.duckdb"
    objects = _query(
        catalog,
        "select 'table', schema_name, table_name from duckdb_tables() "
        "union all select 'view', schema_name, view_name from duckdb_views() where not internal "
        "union all select function_type, schema_name, function_name from duckdb_functions() "
        "where not internal order by all",
    )
    assert objects == [
        ("table", "publish", "manifest"),
        ("table_macro", "marts", "total"),
        ("view", "marts", "dim_small"),
        ("view", "marts", "fct_daily"),
    ]
    # The views name their version's files by absolute path, and read them with the marts'
    # types; the macro (its default parameter too) reads the views.
    (sql,) = _query(catalog, "select sql from duckdb_views() where view_name = 'fct_daily'")[0]
    assert f"'{folder / 'parquet' / 'fct_daily.parquet'}'" in sql
    types = "select column_name, data_type from duckdb_columns() where table_name = 'fct_daily'"
    assert _query(catalog, types) == _query(build, types)
    assert _query(catalog, "select * from marts.total()") == [(sum(i * 1.25 for i in range(120)),)]
    assert _query(catalog, "select * from publish.manifest order by mart")[1][:3] == (
        "fct_daily",
        120,
        sum(round(i * 1.25, 2) for i in range(120)),
    )
    assert EMAIL.encode() not in catalog.read_bytes()
    assert os.stat(catalog).st_mode & 0o777 == 0o600


def test_a_publication_with_nothing_changed_links_every_file(build, tmp_path):
    out = tmp_path / "out"
    first = version.publish_version(build, out)
    second = version.publish_version(build, out)
    assert sorted(first["parquet_written"]) == ["dim_small.parquet", "fct_daily.parquet"]
    assert second["parquet_written"] == []
    assert second["parquet_linked"] == ["dim_small.parquet", "fct_daily.parquet"]
    assert {r["action"] for r in second["parquet"].values()} == {"linked"}
    # Hard links: the same inode under both versions (nothing rewritten, no space taken).
    assert _files(Path(second["path"])) == _files(Path(first["path"]))
    recorded = json.loads((Path(second["path"]) / "version.json").read_text())
    assert (
        recorded["parquet"]["fct_daily.parquet"]["fingerprint"]
        == (first["parquet"]["fct_daily.parquet"]["fingerprint"])
    )


def test_a_changed_mart_is_written_again_and_the_others_linked(build, tmp_path):
    out = tmp_path / "out"
    first = version.publish_version(build, out)
    _change(build, "update marts.dim_small set label = 'changed' where id = 3")
    second = version.publish_version(build, out)
    assert second["parquet_written"] == ["dim_small.parquet"]
    assert second["parquet_linked"] == ["fct_daily.parquet"]
    label = "select label from marts.dim_small where id = 3"
    assert _query(Path(second["path"]) / "published.duckdb", label) == [("changed",)]
    assert _query(Path(first["path"]) / "published.duckdb", label) == [("label 3",)]


DUPLICATE = "insert into marts.dim_small select * from marts.dim_small where id = 1"


@pytest.mark.parametrize(
    ("before", "change"),
    [
        (None, DUPLICATE),
        # Two equal rows changed alike: an XOR of row hashes cancels them both times.
        (DUPLICATE, "update marts.dim_small set label = 'twins' where id = 1"),
        (None, "alter table marts.dim_small rename column label to name"),  # same rows
        (None, "update marts.dim_small set value = value + 0.01 where id = 0"),
    ],
    ids=["duplicate-row", "duplicates-changed", "renamed-column", "a-cent"],
)
def test_the_fingerprint_sees_every_kind_of_change(before, change, build, tmp_path):
    out = tmp_path / "out"
    if before:
        _change(build, before)
    version.publish_version(build, out)
    _change(build, change)
    assert version.publish_version(build, out)["parquet_written"] == ["dim_small.parquet"]


def test_a_large_mart_is_one_folder_per_month_and_only_a_changed_month_is_written(
    build, tmp_path, monkeypatch
):
    """Hive's layout (`business_month=YYYY-MM/`): DuckDB and Arrow (as Spark) read it as
    the mart plus a `business_month` column; the catalog's view gives exactly the mart."""
    monkeypatch.setattr(parquet, "PARTITION_ROWS", 50)
    out = tmp_path / "out"
    first = version.publish_version(build, out)
    folder = Path(first["path"])
    assert sorted(_files(folder)) == [
        "dim_small.parquet",
        "fct_daily/business_month=2026-01/data_0.parquet",
        "fct_daily/business_month=2026-02/data_0.parquet",
        "fct_daily/business_month=2026-03/data_0.parquet",
    ]
    catalog = folder / "published.duckdb"
    every_row = "select count(*), sum(hash(t)) from {} t"
    assert _query(catalog, every_row.format("marts.fct_daily")) == _query(
        build, every_row.format("marts.fct_daily")
    )
    types = "select column_name, data_type from duckdb_columns() where table_name = 'fct_daily'"
    assert _query(catalog, types) == _query(build, types)
    hive = _query(
        catalog,
        f"select business_month, count(*) from read_parquet('{folder}/parquet/fct_daily/*/*"
        ".parquet', hive_partitioning = true) group by all order by 1",
    )
    assert hive == [("2026-01", 62), ("2026-02", 56), ("2026-03", 2)]
    arrow = ds.dataset(folder / "parquet" / "fct_daily", format="parquet", partitioning="hive")
    assert arrow.to_table().num_rows == 120 and "business_month" in arrow.schema.names

    _change(
        build,
        "update marts.fct_daily set amount = amount + 1 where business_date = date '2026-02-10'",
    )
    second = version.publish_version(build, out)
    assert second["parquet_written"] == ["fct_daily/business_month=2026-02"]
    assert len(second["parquet_linked"]) == 3
    now, before = _files(Path(second["path"])), _files(folder)
    changed = "fct_daily/business_month=2026-02/data_0.parquet"
    assert {k for k in now if now[k] != before[k]} == {changed}


def test_a_version_from_before_fingerprints_is_not_linked_from(build, tmp_path):
    out = tmp_path / "out"
    first = version.publish_version(build, out)
    record = Path(first["path"]) / "version.json"
    old = json.loads(record.read_text())
    del old["parquet"]
    record.write_text(json.dumps(old))
    again = version.publish_version(build, out)
    assert again["parquet_linked"] == [] and len(again["parquet_written"]) == 2


def test_where_no_hard_link_is_possible_an_unchanged_file_is_copied(build, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = version.publish_version(build, out)

    def cross_device(source, target):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(parquet.os, "link", cross_device)
    second = version.publish_version(build, out)
    assert {r["action"] for r in second["parquet"].values()} == {"copied"}
    assert second["parquet_written"] == []
    now, before = _files(Path(second["path"])), _files(Path(first["path"]))
    assert now.keys() == before.keys() and not set(now.values()) & set(before.values())
    count = "select count(*) from marts.fct_daily"
    assert _query(Path(second["path"]) / "published.duckdb", count) == [(120,)]


def test_a_parquet_folder_from_before_versions_becomes_the_reader_symlink(build, tmp_path):
    """A publish folder written before versioned publishing holds a real `parquet/` folder:
    the first publication moves it aside and puts the symlink through `current` in its place."""
    out = tmp_path / "out"
    (out / "parquet").mkdir(parents=True)
    (out / "parquet" / "old.parquet").write_bytes(b"from before")
    published = version.publish_version(build, out)
    link = out / "parquet"
    assert link.is_symlink()
    assert os.path.realpath(link) == str(Path(published["path"]) / "parquet")
    assert sorted(p.name for p in link.iterdir()) == ["dim_small.parquet", "fct_daily.parquet"]
    assert not [p for p in out.iterdir() if p.name.startswith(".parquet.old")]
