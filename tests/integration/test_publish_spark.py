"""Publishing on the spark target (`pipelines.publish.spark`), without Spark: a small DuckDB
build's marts are written in Spark's layout (`<lake>/spark-warehouse/marts.db/<mart>/
part-*.snappy.parquet`, `_SUCCESS`, `.crc` files, timestamps as Spark writes them: UTC wall
time without a zone, a mart split into two part files), then published from there; the
published output must equal the one published from the DuckDB build itself: the same marts
with the same types and rows, the same Parquet fingerprints, the same table macros giving the
same answers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import DBT_PROJECT_DIR, run_dbt

import seeds
from pipelines.extract import extract_all
from pipelines.publish import spark
from pipelines.publish.version import publish_version

START = dt.date(2026, 3, 1)
DAYS = 30
AS_OF = START + dt.timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark_publish")
    source, warehouse = root / "operational.db", root / "warehouse.duckdb"
    seeds.generate(
        f"sqlite:///{source}", customers=120, days=DAYS, seed=5, start=START, progress=False
    )
    assert not extract_all(f"sqlite:///{source}", str(warehouse)).errors
    result = run_dbt(
        warehouse,
        "build",
        "--exclude",
        "resource_type:test",
        "resource_type:unit_test",
        as_of=AS_OF.isoformat(),
    )
    assert result.returncode == 0, result.stdout[-5000:]
    return warehouse


def _as_spark_would(warehouse: Path, lake: Path) -> list[str]:
    """Every mart of the build into Spark's table layout; the marts' names."""
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("set TimeZone = 'Africa/Kampala'")  # what Spark writes must not depend on it
    marts = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    ]
    for i, mart in enumerate(marts):
        folder = spark.marts_folder(lake) / mart
        folder.mkdir(parents=True)
        columns = con.execute(f"describe marts.{mart}").fetchall()
        select = ", ".join(
            f'cast(timezone(\'UTC\', "{name}") as timestamp) as "{name}"'
            if kind == "TIMESTAMP WITH TIME ZONE"
            else f'"{name}"'
            for name, kind, *_ in columns
        )
        # Two part files for every other mart (Spark writes one per task).
        halves = ["true"] if i % 2 else ["rowid % 2 = 0", "rowid % 2 = 1"]
        for k, where in enumerate(halves):
            part = folder / f"part-0000{k}-1b2c-c000.snappy.parquet"
            con.execute(
                f"copy (select {select} from marts.{mart} where {where}) to '{part}' "
                "(format parquet, compression snappy)"
            )
            (folder / f".{part.name}.crc").write_bytes(b"crc")
        (folder / "_SUCCESS").write_text("")
    con.close()
    return marts


def _catalog(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        views = [
            r[0]
            for r in con.execute(
                "select view_name from duckdb_views() where schema_name = 'marts' order by 1"
            ).fetchall()
        ]
        macros = sorted(
            r[0]
            for r in con.execute(
                "select function_name from duckdb_functions() where schema_name = 'marts' "
                "and function_type = 'table_macro'"
            ).fetchall()
        )
        types = {v: con.execute(f"describe marts.{v}").fetchall() for v in views}
        return {"views": views, "macros": macros, "types": types}
    finally:
        con.close()


def test_spark_marts_publish_the_same_output_as_duckdb(build, tmp_path):
    lake = tmp_path / "lake"
    marts = _as_spark_would(build, lake)
    assert len(marts) >= 20
    from_duckdb = publish_version(build, tmp_path / "pub_duckdb")
    from_spark = spark.publish_from_spark(lake, tmp_path / "pub_spark", project_dir=DBT_PROJECT_DIR)
    assert from_spark["engine"] == "spark"
    assert from_spark["rows_per_mart"] == from_duckdb["rows_per_mart"]
    # The same rows, types and layout give the same fingerprint for every Parquet file.
    fingerprints = [
        {path: f["fingerprint"] for path, f in info["parquet"].items()}
        for info in (from_duckdb, from_spark)
    ]
    assert fingerprints[0] == fingerprints[1]

    a = tmp_path / "pub_duckdb" / "published.duckdb"
    b = tmp_path / "pub_spark" / "published.duckdb"
    catalogs = _catalog(a), _catalog(b)
    assert catalogs[0] == catalogs[1]
    assert len(catalogs[1]["macros"]) >= 9

    con = duckdb.connect(str(b), read_only=True)
    con.execute(f"attach '{a}' as duck (read_only)")
    for view in catalogs[0]["views"]:
        for x, y in (
            (f"marts.{view}", f"duck.marts.{view}"),
            (f"duck.marts.{view}", f"marts.{view}"),
        ):
            (extra,) = con.execute(
                f"select count(*) from (select * from {x} except all select * from {y})"
            ).fetchone()
            assert extra == 0, view
    # A table macro answers the same over Spark's marts.
    window = f"date '{START}', date '{AS_OF}'"
    calls = [f"loyalty_calculate({window})", f"vip_growth({window})"]
    for call in calls:
        here = sorted(con.execute(f"select * from marts.{call}").fetchall(), key=repr)
        con.execute("use duck")
        there = sorted(con.execute(f"select * from marts.{call}").fetchall(), key=repr)
        con.execute("use published")
        assert here == there, call
    manifest = con.execute("select count(*) from publish.manifest").fetchone()[0]
    assert manifest == len(catalogs[0]["views"])
    con.close()
    record = json.loads((Path(from_spark["path"]) / "version.json").read_text())
    assert record["engine"] == "spark"
    assert not list(lake.glob(".spark-marts*")) and not list(lake.glob(".dbt-compile-*"))


def test_no_spark_marts_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Spark marts"):
        spark.stage(tmp_path / "lake", tmp_path / "s.duckdb")
