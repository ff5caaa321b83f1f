"""Pure pieces of extraction: type mapping, selection, drift rules, cursor, prefetch."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from models.schema import APPEND_ONLY, metadata
from pipelines.errors import SchemaDriftError
from pipelines.extract.drift import compare, widens
from pipelines.extract.plan import TableSelection, classify, plan_table
from pipelines.extract.readers.conditions import cursor_condition
from pipelines.extract.readers.timestamps import parse_timestamps
from pipelines.extract.stream import prefetch


@pytest.mark.parametrize(
    ("type_", "dialect", "expected"),
    [
        (sa.Numeric(12, 2), "postgresql", ("decimal", "DECIMAL(12,2)", 12, 2)),
        (sa.NUMERIC(5, 2), "sqlite", ("decimal", "DECIMAL(5,2)", 5, 2)),
        (sa.Numeric(), "postgresql", ("decimal", "DECIMAL(38,10)", 38, 10)),
        (sa.Numeric(60, 2), "postgresql", ("text", "VARCHAR", None, None)),
        (sa.Float(), "postgresql", ("float", "DOUBLE", None, None)),
        (
            sa.DateTime(timezone=True),
            "postgresql",
            ("timestamp", "TIMESTAMP WITH TIME ZONE", None, None),
        ),
        (sa.DATETIME(), "sqlite", ("timestamp", "TIMESTAMP WITH TIME ZONE", None, None)),
        (sa.Date(), "sqlite", ("date", "DATE", None, None)),
        (sa.Boolean(), "sqlite", ("boolean", "BOOLEAN", None, None)),
        (sa.Integer(), "sqlite", ("integer", "BIGINT", None, None)),
        (sa.Integer(), "postgresql", ("integer", "INTEGER", None, None)),
        (sa.SmallInteger(), "postgresql", ("integer", "SMALLINT", None, None)),
        (sa.BigInteger(), "postgresql", ("integer", "BIGINT", None, None)),
        (sa.String(20), "postgresql", ("text", "VARCHAR", None, None)),
        (postgresql.JSONB(), "postgresql", ("text", "VARCHAR", None, None)),
        (postgresql.UUID(), "postgresql", ("text", "VARCHAR", None, None)),
    ],
)
def test_classify(type_, dialect, expected):
    assert classify(type_, dialect) == expected


def test_modes_follow_the_contract():
    modes = {t.name: plan_table(t, "postgresql").mode for t in metadata.sorted_tables}
    assert {n for n, m in modes.items() if m == "append"} == set(APPEND_ONLY)
    assert {m for n, m in modes.items() if n not in APPEND_ONLY} == {"merge"}
    plan = plan_table(metadata.tables["orders_order"], "postgresql")
    assert (plan.primary_key, plan.cursor) == (("id",), "updated_at")
    assert plan.money_columns == ("subtotal", "discount_amount", "delivery_fee", "total")


def test_replace_mode_without_key_or_cursor():
    t = sa.Table("lookup", sa.MetaData(), sa.Column("code", sa.String(3)))
    assert plan_table(t, "sqlite").mode == "replace"


@pytest.mark.parametrize(
    ("name", "selection", "wanted"),
    [
        ("orders_order", TableSelection(), True),
        ("seeds_simulation", TableSelection(), False),
        ("django_migrations", TableSelection(), False),
        ("seeds_simulation", TableSelection(exclude=()), True),
        ("orders_order", TableSelection(include=("payments_*",)), False),
        ("payments_refund", TableSelection(include=("payments_*",)), True),
        ("payments_refund", TableSelection(include=("payments_*",), exclude=("*_refund",)), False),
    ],
)
def test_selection(name, selection, wanted):
    assert selection.wants(name) is wanted


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [
        ("INTEGER", "BIGINT", True),
        ("BIGINT", "INTEGER", False),
        ("DECIMAL(12,2)", "DECIMAL(14,2)", True),
        ("DECIMAL(12,2)", "DECIMAL(12,3)", False),
        ("DECIMAL(12,2)", "DECIMAL(13,3)", True),
        ("DECIMAL(12,2)", "DECIMAL(14,4)", True),
        ("DECIMAL(12,2)", "VARCHAR", False),
        ("VARCHAR", "BIGINT", False),
    ],
)
def test_widens(old, new, ok):
    assert widens(old, new) is ok


def test_compare_names_table_column_and_both_types():
    plan = plan_table(metadata.tables["menu_meal"], "postgresql")
    existing = {c.name: c.duck_type for c in plan.columns}
    existing["price"] = "BOOLEAN"
    existing["legacy_code"] = "VARCHAR"
    del existing["category"]
    with pytest.raises(SchemaDriftError) as info:
        compare(plan, existing)
    message = str(info.value)
    assert "'menu_meal'" in message and "'price'" in message
    assert "has BOOLEAN" in message and "NUMERIC(12, 2) (DECIMAL(12,2))" in message
    existing["price"] = "DECIMAL(12,2)"
    drift = compare(plan, existing)
    assert (drift.added, drift.dropped, drift.widened) == (("category",), ("legacy_code",), ())


def test_cursor_is_bound_never_formatted():
    since = dt.datetime(2026, 3, 1, 10, 30, 15, 123456, tzinfo=dt.UTC)
    t = metadata.tables["orders_order"]
    pg = plan_table(t, "postgresql")
    compiled = (
        sa.select(t.c.id)
        .where(cursor_condition(pg, since, t))
        .compile(dialect=postgresql.psycopg.dialect())
    )
    assert "2026" not in str(compiled)
    assert compiled.params == {"since": since}

    lite = plan_table(t, "sqlite")
    compiled = (
        sa.select(t.c.id).where(cursor_condition(lite, since, t)).compile(dialect=sqlite.dialect())
    )
    assert "2026" not in str(compiled)
    assert "julianday(orders_order.updated_at) >= julianday(?)" in str(compiled)
    assert compiled.params == {"since_day": "2026-02-28", "since": "2026-03-01 10:30:15.123456"}

    refunds = metadata.tables["payments_refund"]
    ledger = plan_table(refunds, "sqlite")
    compiled = (
        sa.select(refunds.c.id)
        .where(cursor_condition(ledger, 41, refunds))
        .compile(dialect=sqlite.dialect())
    )
    assert str(compiled).endswith("WHERE payments_refund.id > ?")
    assert compiled.params == {"after": 41}
    assert cursor_condition(pg, None, t) is None


def _reader(n: int, fail_at: int | None = None) -> pa.RecordBatchReader:
    schema = pa.schema([("x", pa.int64())])

    def gen():
        for i in range(n):
            if i == fail_at:
                raise ValueError("source broke")
            yield pa.record_batch([pa.array([i, i])], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, gen())


def test_prefetch_keeps_order_and_bounds_nothing_lost():
    seen = []
    out = prefetch(_reader(50), depth=2, on_batch=lambda b: seen.append(b.num_rows))
    table = out.read_all()
    assert table.column("x").to_pylist() == [i for i in range(50) for _ in (0, 1)]
    assert seen == [2] * 50


def test_prefetch_hands_reader_errors_to_the_consumer():
    errors: list[BaseException] = []
    out = prefetch(_reader(10, fail_at=4), depth=2, errors=errors)
    with pytest.raises(Exception, match="source broke"):
        out.read_all()
    assert [type(e) for e in errors] == [ValueError]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["2026-03-01 10:30:15.123456", None], ["2026-03-01T10:30:15.123456+00:00", None]),
        (["2026-03-01 10:30:15"], ["2026-03-01T10:30:15+00:00"]),
        (["2026-03-01T10:30:15"], ["2026-03-01T10:30:15+00:00"]),
        (
            ["2026-03-01 10:30:15+03:00", "2026-03-01T10:30:15.5Z", "2026-03-01 10:30:15"],
            [
                "2026-03-01T07:30:15+00:00",
                "2026-03-01T10:30:15.500000+00:00",
                "2026-03-01T10:30:15+00:00",
            ],
        ),
        (["2026-03-01 23:30:00.000001-05:30"], ["2026-03-02T05:00:00.000001+00:00"]),
    ],
)
def test_parse_timestamps_every_django_form(texts, expected):
    parsed = parse_timestamps(pa.array(texts, pa.string()))
    assert parsed.type == pa.timestamp("us", tz="UTC")
    assert [None if v is None else v.isoformat() for v in parsed.to_pylist()] == expected


@pytest.mark.parametrize(
    ("text", "ok"), [("512MB", True), ("2GiB", True), ("1.5 GB", True), ("1GB'; --", False)]
)
def test_memory_limit_is_validated(text, ok):
    from pipelines.extract.warehouse import _size

    if ok:
        assert _size(text) == text
    else:
        with pytest.raises(ValueError, match="not a memory size"):
            _size(text)


def test_the_warehouse_resource_caps_duckdbs_memory_by_default():
    from pipelines.defs.resources import Warehouse

    # Uncapped, DuckDB's buffer pool took a full 1M-customer copy to 1.9 GiB (target 1.5).
    assert Warehouse(path="w.duckdb").memory_limit == "256MB"
