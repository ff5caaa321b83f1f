"""Helpers for the extraction tests: small hand-made sources and independent comparisons.

The comparison does not reuse the extractor: it reads the source with the plain DB-API
driver (sqlite3 / psycopg) and parses values with Python's own parsers, then hashes each
normalized row; the warehouse side is read with DuckDB's Python client.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from decimal import Decimal
from pathlib import Path

import duckdb
import sqlalchemy as sa

from models.schema import metadata

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, 8, 0, tzinfo=UTC)

#: Tables the hand-made source fills (with their parents).
TABLES = (
    "accounts_website",
    "campaigns_campaign",  # left empty: an empty table must copy too
    "accounts_user",
    "menu_meal",
    "orders_order",
    "payments_payment",
    "payments_refund",
    "corporate_contract",
)


def _ts(value: dt.datetime, dialect: str, style: int = 0):
    """A timestamp as Django stores it: ISO text on SQLite in several forms, aware on PG."""
    if dialect != "sqlite":
        return value
    value = value.astimezone(UTC)
    forms = [
        value.strftime("%Y-%m-%d %H:%M:%S.%f"),  # Django's usual form
        value.strftime("%Y-%m-%d %H:%M:%S"),  # no fraction
        value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00",  # T and offset
        (value + dt.timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S") + "+03:00",  # offset
        value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",  # millis and Z
    ]
    return forms[style % len(forms)]


class HandSource:
    """A small deterministic source on SQLite or PostgreSQL, written through SQLAlchemy Core.

    Rows are inserted with the driver's raw parameters (text timestamps on SQLite) so that
    the exact storage forms Django produces are exercised.
    """

    def __init__(self, url: str, seed: int = 7) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        self.dialect = self.engine.dialect.name
        self.rng = random.Random(seed)
        self.clock = T0
        self.next_id: dict[str, int] = {}
        tables = [metadata.tables[n] for n in TABLES]
        metadata.create_all(self.engine, tables=tables)

    def tick(self, seconds: int = 60) -> dt.datetime:
        self.clock += dt.timedelta(seconds=seconds, microseconds=self.rng.randrange(1_000_000))
        return self.clock

    def _id(self, table: str) -> int:
        self.next_id[table] = self.next_id.get(table, 0) + 1
        return self.next_id[table]

    def _money(self, low: int, high: int) -> Decimal:
        return Decimal(self.rng.randrange(low * 100, high * 100)) / 100

    def insert(self, table: str, rows: list[dict]) -> None:
        cols = list(rows[0])
        t = metadata.tables[table]
        if self.dialect == "sqlite":
            # Raw DB-API: keep timestamps as the text we chose; money as text, which
            # SQLite's NUMERIC affinity turns into INTEGER or REAL as Django's writes do.
            def conv(v):
                if isinstance(v, Decimal):
                    return str(v)
                return v.isoformat() if isinstance(v, dt.date) else v

            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            with self.engine.begin() as conn:
                conn.exec_driver_sql(sql, [tuple(conv(r[c]) for c in cols) for r in rows])
        else:
            with self.engine.begin() as conn:
                conn.execute(t.insert(), rows)

    def populate(self, users: int = 30, orders: int = 120) -> None:
        d = self.dialect
        self.insert(
            "accounts_website",
            [
                dict(
                    id=self._id("accounts_website"),
                    name=f"Site {i}",
                    domain=f"s{i}.example",
                    currency="UGX",
                    timezone="Africa/Kampala",
                    created_at=_ts(self.tick(), d, i),
                    updated_at=_ts(self.clock, d, i + 1),
                )
                for i in range(2)
            ],
        )
        self.insert("accounts_user", [self.user_row(i) for i in range(users)])
        self.insert(
            "menu_meal",
            [
                dict(
                    id=self._id("menu_meal"),
                    website_id=1 + i % 2,
                    name=f"Meal {i}",
                    category="main",
                    price=self._money(5, 50),
                    is_active=i % 3 != 0,
                    created_at=_ts(self.tick(), d, i),
                    updated_at=_ts(self.clock, d, i),
                )
                for i in range(6)
            ],
        )
        self.insert("orders_order", [self.order_row(i) for i in range(orders)])
        payments = [self.payment_row(i) for i in range(1, orders + 1, 2)]
        self.insert("payments_payment", payments)
        self.insert(
            "payments_refund", [self.refund_row(p["id"], k) for k, p in enumerate(payments[::5])]
        )
        self.insert(
            "corporate_contract",
            [
                dict(
                    id=self._id("corporate_contract"),
                    website_id=1,
                    company_name=f"Co {i}",
                    contract_value=self._money(1000, 90000),
                    billing_cycle="monthly",
                    start_date=dt.date(2026, 1, 1 + i),
                    end_date=dt.date(2026, 12, 1 + i),
                    status="active",
                    created_at=_ts(self.tick(), d, i),
                    updated_at=_ts(self.clock, d, i),
                )
                for i in range(3)
            ],
        )

    def user_row(self, i: int) -> dict:
        d = self.dialect
        uid = self._id("accounts_user")
        return dict(
            id=uid,
            website_id=1 + i % 2,
            email=f"u{uid}@x.test",
            phone=f"+2567{uid:08d}",
            first_name="Ann" if i % 2 else "Bob",
            last_name=f"L{uid}",
            is_active=i % 4 != 0,
            referred_by_id=None if i < 3 or i % 3 else uid - 1,
            date_joined=_ts(self.tick(), d, i),
            updated_at=_ts(self.clock, d, i + 2),
        )

    def order_row(self, i: int) -> dict:
        d = self.dialect
        oid = self._id("orders_order")
        subtotal = self._money(10, 300)
        discount = (
            (subtotal * Decimal("0.10")).quantize(Decimal("0.01"))
            if i % 4 == 0
            else Decimal("0.00")
        )
        fee = Decimal(self.rng.choice([0, 2, 3])) + Decimal("0.50") * (i % 2)
        created = self.tick()
        return dict(
            id=oid,
            website_id=1 + i % 2,
            user_id=1 + self.rng.randrange(3),
            status="delivered" if i % 5 else "pending",
            channel="direct",
            subtotal=subtotal,
            discount_amount=discount,
            discount_type="vip" if i % 4 == 0 else None,
            delivery_fee=fee,
            total=subtotal - discount + fee,
            payment_method="mtn_mobile_money",
            payment_status="completed",
            campaign_id=None,
            loyalty_points_used=i % 7,
            created_at=_ts(created, d, i),
            updated_at=_ts(created, d, i + 1),
            delivered_at=None
            if i % 5 == 0 or i < 70
            else _ts(created + dt.timedelta(minutes=40), d, i),
            cancelled_at=None,
        )

    def payment_row(self, order_id: int) -> dict:
        d = self.dialect
        amount = self._money(10, 300)
        return dict(
            id=self._id("payments_payment"),
            website_id=1,
            user_id=1,
            purpose="order",
            order_id=order_id,
            reference_id=None,
            method="mtn_mobile_money",
            amount=amount,
            status="completed",
            provider_reference=f"P{order_id}",
            created_at=_ts(self.tick(), d, order_id),
            updated_at=_ts(self.clock, d, order_id),
            completed_at=_ts(self.clock, d, order_id + 1),
        )

    def refund_row(self, payment_id: int, k: int) -> dict:
        return dict(
            id=self._id("payments_refund"),
            payment_id=payment_id,
            amount=self._money(1, 9),
            reason=f"r{k}",
            created_at=_ts(self.tick(), self.dialect, k),
        )

    def change(self) -> dict[str, int]:
        """Insert, update and hard-delete some rows (as the activity simulator would)."""
        d = self.dialect
        self.insert("orders_order", [self.order_row(i) for i in range(10)])
        payments = [self.payment_row(1 + i) for i in range(4)]
        self.insert("payments_payment", payments)
        self.insert(
            "payments_refund", [self.refund_row(p["id"], 50 + k) for k, p in enumerate(payments)]
        )
        with self.engine.begin() as conn:
            o = metadata.tables["orders_order"]
            for oid in (2, 3, 5, 8):
                conn.execute(
                    sa.text(
                        "UPDATE orders_order SET status = 'cancelled', updated_at = :u, "
                        "cancelled_at = :c WHERE id = :i"
                    ),
                    {"u": _ts(self.tick(), d, oid), "c": _ts(self.clock, d, oid + 2), "i": oid},
                )
            conn.execute(
                sa.text(
                    "UPDATE accounts_user SET first_name = 'Zed', updated_at = :u WHERE id = 4"
                ),
                {"u": _ts(self.tick(), d, 0)},
            )
            # Hard deletes: abandoned pending orders (with their payments), one user.
            for oid in (6, 11):
                conn.execute(
                    sa.text(
                        "DELETE FROM payments_refund WHERE payment_id IN "
                        "(SELECT id FROM payments_payment WHERE order_id = :o)"
                    ),
                    {"o": oid},
                )
                conn.execute(
                    sa.text("DELETE FROM payments_payment WHERE order_id = :o"), {"o": oid}
                )
                conn.execute(o.delete().where(o.c.id == oid))
            conn.execute(sa.text("DELETE FROM accounts_user WHERE id = 30"))
        return {"orders_deleted": 2, "users_deleted": 1}


# -- independent comparison -------------------------------------------------------------


def _norm(value, type_: sa.types.TypeEngine):
    if value is None:
        return None
    if isinstance(type_, sa.Boolean):
        return bool(value)
    if isinstance(type_, sa.DateTime):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(type_, sa.Date):
        return value if isinstance(value, str) else value.isoformat()
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        exp = Decimal(1).scaleb(-(type_.scale or 0))
        return str(Decimal(str(value)).quantize(exp))
    if isinstance(type_, sa.Integer):
        return int(value)
    return value


def _digest(rows) -> dict:
    return {r[0]: hashlib.sha256(repr(r).encode()).hexdigest() for r in rows}


def source_rows(url: str, table: str) -> dict:
    """{id: sha256 of the normalized row} of a source table, via the plain driver."""
    t = metadata.tables[table]
    names = [c.name for c in t.columns]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            raw = conn.exec_driver_sql(f"SELECT {', '.join(names)} FROM {table}").fetchall()
    finally:
        engine.dispose()
    return _digest(tuple(_norm(v, c.type) for v, c in zip(r, t.columns, strict=True)) for r in raw)


def warehouse_rows(path: str | Path, table: str) -> dict:
    t = metadata.tables[table]
    names = [c.name for c in t.columns]
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        raw = con.execute(f"SELECT {', '.join(names)} FROM raw.{table}").fetchall()
    finally:
        con.close()
    return _digest(tuple(_norm(v, c.type) for v, c in zip(r, t.columns, strict=True)) for r in raw)


def assert_equal(url: str, warehouse: str | Path, tables=TABLES) -> None:
    for table in tables:
        src, dst = source_rows(url, table), warehouse_rows(warehouse, table)
        missing = sorted(set(src) - set(dst))
        extra = sorted(set(dst) - set(src))
        changed = sorted(k for k in set(src) & set(dst) if src[k] != dst[k])
        assert (missing, extra, changed) == ([], [], []), f"{table}: missing/extra/changed ids"
        assert len(dst) == len(src)


def table_hash(rows: dict) -> str:
    return hashlib.sha256("".join(rows[k] for k in sorted(rows)).encode()).hexdigest()


def counts(report) -> dict:
    """Each table's (inserted, updated, deleted, rows in raw) in an extraction report."""
    return {
        name: (r.rows_inserted, r.rows_updated, r.rows_deleted, r.row_count)
        for name, r in report.results.items()
    }


#: `counts` of the extraction that follows one `HandSource.change()` of the initial
#: hand-made source, worked out from what `change` inserts, updates and deletes.
COUNTS_AFTER_CHANGE = {
    "accounts_user": (0, 1, 1, 29),
    "accounts_website": (0, 0, 0, 2),
    "campaigns_campaign": (0, 0, 0, 0),
    "corporate_contract": (0, 0, 0, 3),
    "menu_meal": (0, 0, 0, 6),
    "orders_order": (10, 4, 2, 128),
    "payments_payment": (4, 0, 1, 63),
    "payments_refund": (4, 0, 1, 15),
}
