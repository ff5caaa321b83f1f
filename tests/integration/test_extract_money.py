"""Money exact from a source that declares no scale, and Django's timestamp text.

Tables are created with the DDL Django's SQLite backend emits (`decimal` with no
precision, `datetime`), and filled as Django fills them: a DecimalField's value handed to
sqlite3 as text or float, which NUMERIC affinity stores as REAL (or INTEGER when whole).
Every expected value is a Decimal string.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from decimal import Decimal

import duckdb
import pytest
import sqlalchemy as sa

from pipelines.defs.raw.quality import find_violations
from pipelines.extract import Source, extract_all
from pipelines.extract.exact import EXCESS_SCALE, OUT_OF_RANGE, UNPARSABLE

#: Django 5.2's DDL of a contract table (payments_refund) on SQLite.
REFUND_DDL = (
    'CREATE TABLE "payments_refund" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, '
    '"payment_id" bigint NOT NULL, "amount" decimal NOT NULL, "reason" varchar(200) NOT NULL, '
    '"created_at" datetime NOT NULL)'
)
#: A table the contract does not know: no scale anywhere, the wide default.
TIP_DDL = (
    'CREATE TABLE "shop_tip" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, '
    '"amount" decimal NULL, "updated_at" datetime NOT NULL)'
)
KNOWN = ["272731.28", "999999.99", "123456789.01", "0.30", "0.10", "100000.01", "12", "0.00"]


def _raw(warehouse: str, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(warehouse, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture
def django_db(tmp_path):
    path = tmp_path / "django.db"
    db = sqlite3.connect(path)
    db.execute(REFUND_DDL)
    db.execute(TIP_DDL)
    yield path, db
    db.close()


def _refunds(db, amounts, first_id=1):
    db.executemany(
        "INSERT INTO payments_refund VALUES (?, 1, ?, 'r', '2026-01-01 08:00:00')",
        [(first_id + i, a) for i, a in enumerate(amounts)],
    )
    db.commit()


@pytest.mark.parametrize("reader", ["adbc", "sqlalchemy"])
def test_money_without_a_declared_scale_lands_exact(django_db, tmp_path, reader):
    path, db = django_db
    rng = random.Random(3)
    every_cent = list(range(27_273_100, 27_283_100))  # 272,731.00 … 272,830.99
    sampled = [rng.randrange(10_000_000, 100_000_000) for _ in range(20_000)]
    cents = every_cent + sampled
    _refunds(db, KNOWN)  # as Django hands a Decimal over: its text
    _refunds(db, [c / 100 for c in cents], first_id=100)  # as floats: REAL
    stored = dict(db.execute("SELECT typeof(amount), count(*) FROM payments_refund GROUP BY 1"))
    assert stored["real"] > 29_000 and stored["integer"] >= 2  # '12', '0.00', whole amounts
    warehouse = str(tmp_path / "w.duckdb")
    report = extract_all(Source(f"sqlite:///{path}", reader=reader, batch_rows=4096), warehouse)
    assert report.ok, report.errors
    types = dict(
        _raw(
            warehouse,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'payments_refund'",
        )
    )
    assert types["amount"] == "DECIMAL(12,2)"  # the contract's, the source declares none
    got = _raw(warehouse, "SELECT CAST(amount AS VARCHAR) FROM raw.payments_refund ORDER BY id")
    expected = [str(Decimal(k).quantize(Decimal("0.01"))) for k in KNOWN]
    assert [g[0] for g in got] == expected + [str(Decimal(c).scaleb(-2)) for c in cents]
    assert "_rejected_values" not in {r[0] for r in _raw(warehouse, "SHOW TABLES FROM raw")}


@pytest.mark.parametrize("reader", ["adbc", "sqlalchemy"])
def test_a_wide_decimal_keeps_integers_exact_and_never_the_binary_expansion(
    django_db, tmp_path, reader
):
    path, db = django_db
    values = [272731.28, 2**62 + 1, 0.3, -0.0, 1e15, 1e-7, "123456789.01"]
    db.executemany(
        "INSERT INTO shop_tip VALUES (?, ?, '2026-01-01 08:00:00')",
        list(enumerate(values, 1)),
    )
    db.commit()
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(Source(f"sqlite:///{path}", reader=reader), warehouse).ok
    assert _raw(warehouse, "SELECT amount FROM raw.shop_tip ORDER BY id") == [
        (Decimal("272731.28"),),
        (Decimal(2**62 + 1),),
        (Decimal("0.3"),),
        (Decimal(0),),
        (Decimal(10**15),),
        (Decimal("1E-7"),),
        (Decimal("123456789.01"),),
    ]


@pytest.mark.parametrize("reader", ["adbc", "sqlalchemy"])
def test_django_timestamp_text_is_the_right_utc_instant(django_db, tmp_path, reader):
    path, db = django_db
    db.executemany(
        "INSERT INTO shop_tip VALUES (?, 1, ?)",
        [
            (1, "2026-03-29 01:59:59"),
            (2, "2026-03-29 23:30:00.123456"),
            (3, "2025-12-31 23:59:59.5"),
        ],
    )
    db.commit()
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(Source(f"sqlite:///{path}", reader=reader), warehouse).ok
    utc = dt.UTC
    assert _raw(warehouse, "SELECT updated_at FROM raw.shop_tip ORDER BY id") == [
        (dt.datetime(2026, 3, 29, 1, 59, 59, tzinfo=utc),),
        (dt.datetime(2026, 3, 29, 23, 30, 0, 123456, tzinfo=utc),),
        (dt.datetime(2025, 12, 31, 23, 59, 59, 500000, tzinfo=utc),),
    ]
    (epoch,) = _raw(warehouse, "SELECT epoch_us(updated_at) FROM raw.shop_tip WHERE id = 2")[0]
    assert epoch == 1774827000123456


def test_values_that_break_the_scale_are_kept_reported_and_cleared(django_db, tmp_path):
    """12.345 in NUMERIC(12,2): rounded half-even (12.34) and reported; a value that does
    not fit or is not a number: NULL and reported; the source text kept; once each. Float
    noise (0.1 + 0.2 as SQLite's arithmetic leaves it) is what Django reads: 0.30, no break."""
    path, db = django_db
    _refunds(db, [12.345, 0.1 + 0.2, 1e15, "n/a", "7.05"])
    db.executemany(
        "INSERT INTO shop_tip VALUES (?, ?, '2026-01-01 08:00:00')", [(1, 0.123456789012), (2, 5)]
    )
    db.commit()
    url = f"sqlite:///{path}"
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(url, warehouse).ok
    assert _raw(warehouse, "SELECT id, amount FROM raw.payments_refund ORDER BY id") == [
        (1, Decimal("12.34")),
        (2, Decimal("0.30")),
        (3, None),
        (4, None),
        (5, Decimal("7.05")),
    ]
    rejected = [
        ("payments_refund", "1", "amount", "12.345", EXCESS_SCALE),
        ("payments_refund", "3", "amount", "1000000000000000", OUT_OF_RANGE),
        ("payments_refund", "4", "amount", "n/a", UNPARSABLE),
        ("shop_tip", "1", "amount", "0.123456789012", EXCESS_SCALE),  # 12 decimals > 10
    ]
    query = (
        "SELECT table_name, row_key, column_name, raw_value, rule FROM meta._rejected_values "
        "ORDER BY ALL"
    )
    assert _raw(warehouse, query) == rejected
    keys = {"shop_tip": ("id",)}
    named = {
        (v.table, v.key, v.column, v.rule, v.check) for v in find_violations(warehouse, keys=keys)
    }
    assert {(t, int(k), c, r, "exact_decimals") for t, k, c, _, r in rejected} <= named
    # A rerun records nothing twice.
    assert extract_all(url, warehouse).ok
    assert _raw(warehouse, query) == rejected
    # Fixed in the source (Django's save bumps updated_at): no longer named.
    db.execute("UPDATE shop_tip SET amount = 0.35, updated_at = '2026-01-02 08:00:00' WHERE id = 1")
    db.commit()
    assert extract_all(url, warehouse).ok
    named = {(v.table, v.key, v.rule) for v in find_violations(warehouse, keys=keys)}
    assert ("shop_tip", 1, EXCESS_SCALE) not in named
    assert ("payments_refund", 1, EXCESS_SCALE) in named


def test_a_noisy_wide_column_of_an_older_warehouse_is_narrowed_to_the_contract(
    django_db, tmp_path, caplog
):
    path, db = django_db
    _refunds(db, ["272731.28", "100000.01"])
    url = f"sqlite:///{path}"
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(url, warehouse).ok
    con = duckdb.connect(warehouse)  # as the old path left it: DECIMAL(38,10), float noise
    con.execute("ALTER TABLE raw.payments_refund ALTER COLUMN amount TYPE DECIMAL(38,10)")
    con.execute("UPDATE raw.payments_refund SET amount = CAST(272731.28 AS DOUBLE) WHERE id = 1")
    assert con.execute(
        "SELECT CAST(amount AS VARCHAR) FROM raw.payments_refund WHERE id = 1"
    ).fetchall() == [("272731.2800000001",)]
    con.close()
    with caplog.at_level("WARNING", logger="pipelines.extract.drift"):
        report = extract_all(url, warehouse)
    assert report.ok, report.errors
    assert report.results["payments_refund"].columns_widened == ("amount",)
    assert "narrowed from DECIMAL(38,10)" in caplog.text
    assert _raw(
        warehouse, "SELECT CAST(amount AS VARCHAR) FROM raw.payments_refund ORDER BY id"
    ) == [
        ("272731.28",),
        ("100000.01",),
    ]


@pytest.mark.postgres
@pytest.mark.parametrize("reader", ["adbc", "sqlalchemy"])
def test_postgres_numeric_without_scale_takes_the_contract(postgres_url, tmp_path, reader):
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE payments_refund (id bigint PRIMARY KEY, payment_id bigint NOT NULL, "
            "amount numeric NOT NULL, reason varchar(200) NOT NULL, "
            "created_at timestamptz NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO payments_refund VALUES (1, 1, 272731.28, 'r', now()), "
            "(2, 1, 12.345, 'r', now()), (3, 1, 999999.99, 'r', now()), "
            "(4, 1, 123456789.01, 'r', now())"
        )
    engine.dispose()
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(Source(postgres_url, reader=reader), warehouse).ok
    assert _raw(
        warehouse, "SELECT CAST(amount AS VARCHAR) FROM raw.payments_refund ORDER BY id"
    ) == [
        ("272731.28",),
        ("12.34",),
        ("999999.99",),
        ("123456789.01",),
    ]
    assert _raw(warehouse, "SELECT row_key, raw_value, rule FROM meta._rejected_values") == [
        ("2", "12.345", EXCESS_SCALE)
    ]
