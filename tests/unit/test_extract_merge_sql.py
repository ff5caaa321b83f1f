"""The load's SQL builders: their text on tiny plans, and what they do to tiny DuckDB tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from pipelines.extract import merge_sql as sql
from pipelines.extract import reconcile
from pipelines.extract.plan import ColumnPlan, TablePlan

UTC = dt.UTC
T1 = dt.datetime(2026, 1, 1, 8, tzinfo=UTC)
T2 = T1 + dt.timedelta(hours=1)
T3 = T1 + dt.timedelta(hours=2)

ID = ColumnPlan("id", "integer", "BIGINT", "INTEGER")
TOTAL = ColumnPlan("total", "decimal", "DECIMAL(12,2)", "NUMERIC(12, 2)", 12, 2)
NOTE = ColumnPlan("note", "text", "VARCHAR", "TEXT")
UPDATED = ColumnPlan("updated_at", "timestamp", "TIMESTAMP WITH TIME ZONE", "DATETIME")


def _plan(mode="merge", pk=("id",), columns=(ID, TOTAL, NOTE, UPDATED), cursor="updated_at"):
    return TablePlan("t", tuple(columns), tuple(pk), mode, cursor, "sqlite")


ORDERS = _plan()
LEDGER = _plan(mode="append", columns=(ID, TOTAL), cursor="id")
CODES = _plan(pk=("code", "site"), columns=(ColumnPlan("code", "text", "VARCHAR", "TEXT"),
              ColumnPlan("site", "integer", "BIGINT", "INTEGER"), UPDATED))  # fmt: skip


@pytest.mark.parametrize(
    ("column", "arrow_type", "expected"),
    [
        (TOTAL, pa.decimal128(12, 2), 'CAST("total" AS DECIMAL(12,2)) AS "total"'),
        (TOTAL, pa.string(), 'CAST("total" AS DECIMAL(12,2)) AS "total"'),
        (UPDATED, pa.string(), 'CAST("updated_at" AS TIMESTAMPTZ) AS "updated_at"'),
        (ID, pa.int64(), 'CAST("id" AS BIGINT) AS "id"'),
        (
            ColumnPlan('we"ird', "text", "VARCHAR", "TEXT"),
            pa.string(),
            'CAST("we""ird" AS VARCHAR) AS "we""ird"',
        ),
    ],  # fmt: skip
)
def test_cast_column(column, arrow_type, expected):
    assert sql.cast_column(column, arrow_type) == expected


def test_a_float_never_becomes_a_decimal():
    """The guard hands DECIMAL over exact; a double reaching the cast is refused, never
    rounded through its binary expansion."""
    with pytest.raises(TypeError, match="total"):
        sql.cast_column(TOTAL, pa.float64())


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["id"], 's."id" = r."id"'),
        (["code", "site"], 's."code" = r."code" AND s."site" = r."site"'),
    ],
)
def test_join_on(names, expected):
    assert sql.join_on("s", "r", names) == expected


@pytest.mark.parametrize(
    ("plan", "watermark", "last_run_at", "expected"),
    [
        (LEDGER, None, None, "false"),  # append: nothing is ever re-read
        (ORDERS, None, None, "true"),  # no watermark yet: any row may be a re-read
        (ORDERS, T3, T2, "true"),  # the watermark was capped at that run's start
        (ORDERS, T1, T2, f's."updated_at" <= {sql.timestamp_literal(T1)}'),
    ],
)
def test_reread_condition(plan, watermark, last_run_at, expected):
    assert sql.reread_condition(plan, watermark, last_run_at) == expected


def test_timestamp_literal_is_utc():
    kampala = dt.timezone(dt.timedelta(hours=3))
    value = dt.datetime(2026, 1, 1, 11, 0, tzinfo=kampala)
    assert sql.timestamp_literal(value) == "CAST('2026-01-01T08:00:00+00:00' AS TIMESTAMPTZ)"


@pytest.mark.parametrize(
    ("plan", "on"),
    [(ORDERS, ["id", "updated_at"]), (LEDGER, ["id"]), (CODES, ["code", "site", "updated_at"])],
)
def test_unchanged_rows_join_on_key_and_cursor(plan, on):
    assert sql.match_columns(plan) == on
    where = sql.unchanged_condition(plan, "s.x")
    assert where.startswith(sql.join_on("s", "r", on))
    assert where.endswith(" AND (s.x)")
    for name in set(plan.column_names) - set(on):
        assert f's."{name}" IS NOT DISTINCT FROM r."{name}"' in where


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (ORDERS, ('CAST(g."id" AS BIGINT)', 'CAST(g."id" AS VARCHAR)')),
        (
            CODES,
            ("NULL", """concat_ws('|', CAST(g."code" AS VARCHAR), CAST(g."site" AS VARCHAR))"""),
        ),
    ],
)
def test_row_key_exprs(plan, expected):
    assert sql.row_key_exprs(plan, "g") == expected


# -- against DuckDB ----------------------------------------------------------------------------


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE raw_t (id BIGINT, total DECIMAL(12,2), note VARCHAR, updated_at TIMESTAMPTZ)"
    )
    con.executemany(
        "INSERT INTO raw_t VALUES (?, ?, ?, ?)", [(1, "1.10", "a", T1), (2, "2.20", "b", T1)]
    )
    yield con
    con.close()


def _rows(con, table="raw_t"):
    return sorted(con.execute(f"SELECT id, note FROM {table}").fetchall())


def test_select_typed_keeps_exact_money_and_parses_text(con):
    total = pa.array([Decimal("2.68")], pa.decimal128(12, 2))  # as the guard hands it over
    stream = pa.table({"id": [3], "total": total, "note": ["c"], "updated_at": [T2.isoformat()]})
    con.register("src", stream)
    types = {f.name: f.type for f in stream.schema}
    select = sql.select_typed(ORDERS, ORDERS.column_names, types, "src")
    con.execute(sql.insert_select("raw_t", ORDERS.column_names, select))
    row = con.execute("SELECT total, updated_at FROM raw_t WHERE id = 3").fetchone()
    assert (str(row[0]), row[1]) == ("2.68", T2)


def test_merge_statements_drop_rereads_update_and_insert(con):
    # The stage: row 1 re-read unchanged, row 2 changed, row 3 new.
    con.execute("CREATE TEMP TABLE stage AS SELECT * FROM raw_t WHERE false")
    con.executemany(
        "INSERT INTO stage VALUES (?, ?, ?, ?)",
        [(1, "1.10", "a", T1), (2, "2.20", "B", T2), (3, "3.30", "c", T2)],
    )
    reread = sql.reread_condition(ORDERS, T1, T3)
    low, high = con.execute(sql.cursor_bounds("stage", "updated_at", reread)).fetchone()
    assert (low, high) == (T1, T1)
    raw_rows = sql.rows_between("raw_t", "updated_at", low, high)
    con.execute(sql.delete_unchanged("stage", raw_rows, sql.unchanged_condition(ORDERS, reread)))
    assert _rows(con, "stage") == [(2, "B"), (3, "c")]
    assert con.execute(sql.count_changes("stage", "raw_t", ["id"])).fetchone() == (2, 1)
    con.execute(sql.delete_matching("raw_t", "stage", ["id"]))
    con.execute(sql.insert_from("raw_t", ORDERS.column_names, "stage"))
    assert _rows(con) == [(1, "a"), (2, "B"), (3, "c")]


def test_delete_statements_remove_and_audit_what_the_source_lacks(con):
    con.execute(
        "CREATE TABLE audit (t VARCHAR, row_id BIGINT, row_key VARCHAR, seen TIMESTAMPTZ, run TEXT)"
    )
    con.execute("CREATE TEMP TABLE keys AS SELECT 1::BIGINT AS id UNION ALL SELECT 5")
    con.execute(sql.select_gone("gone", "raw_t", "keys", ["id"]))
    assert con.execute(sql.count_rows("gone")).fetchone() == (1,)
    con.execute(sql.audit_deletes(ORDERS, "audit", "gone"), ["t", T3, "run-1"])
    con.execute(sql.delete_matching("raw_t", "gone", ["id"]))
    assert _rows(con) == [(1, "a")]
    audited = con.execute("SELECT t, row_id, row_key, run FROM audit").fetchall()
    assert audited == [("t", 2, "2", "run-1")]
    # The other way round: the source's key raw lacks (a row the cursor missed).
    assert con.execute(sql.missing_keys("keys", "raw_t", ["id"])).fetchall() == [(5,)]


def test_missing_composite_keys_carry_every_column(con):
    con.execute("CREATE TABLE ck AS SELECT * FROM (VALUES ('a', 1), ('a', 2), ('b', 1)) t(c, s)")
    con.execute("CREATE TABLE cr AS SELECT * FROM (VALUES ('a', 1)) t(c, s)")
    assert con.execute(sql.missing_keys("ck", "cr", ["c", "s"])).fetchall() == [
        ("a", 2),
        ("b", 1),
    ]


def test_key_fingerprints_equal_the_reference(con):
    keys = [1, 2, 3, 64, 65, 70_000]
    con.execute("CREATE TABLE k AS SELECT unnest(?) AS id", [keys])
    count, total, squares, low, high = con.execute(sql.key_totals("k", "id")).fetchone()
    assert (count, total, squares) == reconcile.fingerprint(keys)
    assert (low, high) == (1, 70_000)
    bits = 6
    buckets = dict(con.execute(sql.key_fingerprints("k", "id", bits)).fetchall())
    for bucket, text in buckets.items():
        members = [k for k in keys if k >> bits == bucket]
        assert text == " ".join(map(str, reconcile.fingerprint(members)))


def test_in_buckets_selects_raw_rows_of_the_fetched_buckets_only(con):
    con.execute("INSERT INTO raw_t VALUES (200, 1, 'x', NULL), (700, 1, 'y', NULL)")
    bits, buckets = 6, [0, 10]  # keys 0..63 and 640..703
    ranges = reconcile.bucket_ranges(bits, buckets)
    con.register("scope", pa.table({"b": pa.array(buckets, pa.int64())}))
    where = sql.in_buckets("id", ranges, bits, "scope")
    selected = con.execute(f"SELECT id FROM raw_t r {where}").fetchall()
    assert sorted(selected) == [(1,), (2,), (700,)]
