"""Spark smoke test: a session on local[2] (loopback only, no UI) reads the lake that
`pipelines.lake` wrote, natively (`spark.read.parquet` of each table's folder), and finds
raw's rows: per table the count, and the orders' money to the cent and timestamps to the
microsecond (types kept: DECIMAL as decimal, TIMESTAMPTZ as an instant)."""

from __future__ import annotations

import os

import duckdb
import pytest
from extract_support import TABLES, HandSource

from pipelines import lake
from pipelines.extract import RetryPolicy, Source, extract_tables

pyspark = pytest.importorskip("pyspark")

NO_PAUSE = RetryPolicy(retries=0, first_pause_s=0, sleep=lambda _: None, log=lambda _: None)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from pyspark.sql import SparkSession

    warehouse_dir = tmp_path_factory.mktemp("spark") / "spark-warehouse"
    session = (
        SparkSession.builder.master("local[2]")
        .appName("mealytics-lake-smoke")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(warehouse_dir))
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_reads_the_lake_and_finds_raws_rows(spark, tmp_path):
    src = HandSource(f"sqlite:///{tmp_path / 'source.db'}")
    src.populate()
    warehouse, lake_dir = tmp_path / "w.duckdb", tmp_path / "lake"
    source = Source(src.url)
    plans = source.plans()
    for _ in extract_tables(source, warehouse, plans, retry=NO_PAUSE):
        pass
    keys = {p.name: list(p.primary_key) for p in plans}
    lake.write(warehouse, lake_dir, keys=keys, rows_per_file=16)
    src.change()
    for _ in extract_tables(source, warehouse, plans, retry=NO_PAUSE):
        pass
    source.dispose()
    assert lake.write(warehouse, lake_dir, keys=keys, rows_per_file=16)["orders_order"].mode == (
        "incremental"
    )

    con = duckdb.connect(str(warehouse), read_only=True)
    for table in TABLES:
        frame = spark.read.parquet(str(lake.table_folder(lake_dir, table)))
        (raw_rows,) = con.execute(f"select count(*) from raw.{table}").fetchone()
        assert frame.count() == raw_rows, table
        assert frame.columns == [r[0] for r in con.execute(f"describe raw.{table}").fetchall()]
    orders = spark.read.parquet(str(lake.table_folder(lake_dir, "orders_order")))
    types = dict(orders.dtypes)
    assert types["total"] == "decimal(12,2)" and types["created_at"] == "timestamp"
    got = orders.selectExpr(
        "sum(total)", "sum(unix_micros(created_at))", "count(distinct id)"
    ).collect()[0]
    want = con.execute(
        "select sum(total), sum(epoch_us(created_at)), count(distinct id) from raw.orders_order"
    ).fetchone()
    con.close()
    assert tuple(got) == want
