"""The generator and the simulator on SQLite and PostgreSQL: healthy, identical, and alive.

A small source (300 customers, 20 days from a fixed start) is generated with the same seed
on both backends: the invariants hold, the data is the same row for row, and `advance`
keeps both healthy and identical while it updates rows (updated_at bumped) and
hard-deletes others, as the real application does.
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal

import pytest
import sqlalchemy as sa

import seeds
from models import APPEND_ONLY, TABLES
from seeds.invariants import check_invariants

CUSTOMERS = 300
DAYS = 20
SEED = 7
START = dt.date(2026, 1, 5)
#: The generator works through customers in chunks (50,000 by default); small chunks here
#: make this small source cross chunk boundaries, as every big one does.
SMALL_CHUNK = 128


def _generate(url: str, customers: int = CUSTOMERS, days: int = DAYS) -> None:
    seeds.generate(url, customers=customers, days=days, seed=SEED, start=START, progress=False)


def _normal(value: object) -> object:
    """One value as both backends agree on it: UTC-naive timestamps, exact decimals."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, float):  # SQLite hands back NUMERIC sums as floats
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _rows(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every table, ordered by id, normalised."""
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(_normal(v) for v in row)
                for row in conn.execute(sa.select(table).order_by(table.c.id))
            ]
            for table in TABLES
        }


def _money_sums(engine: sa.Engine) -> dict[tuple[str, str], Decimal]:
    """Σ of every money column, exactly: summed as whole cents in SQL, on both backends."""
    sums = {}
    with engine.connect() as conn:
        for table in TABLES:
            for column in table.columns:
                if isinstance(column.type, sa.Numeric) and column.type.scale == 2:
                    cents = sa.func.sum(sa.cast(sa.func.round(column * 100), sa.BigInteger))
                    total = conn.execute(sa.select(sa.func.coalesce(cents, 0))).scalar_one()
                    sums[(table.name, column.name)] = Decimal(int(total)) / 100
    return sums


def _counts(rows: dict[str, list[tuple]]) -> dict[str, int]:
    return {name: len(table_rows) for name, table_rows in rows.items()}


@pytest.fixture
def engines(tmp_path, postgres_url, monkeypatch):
    """The same small source generated on SQLite and on PostgreSQL, in several chunks."""
    monkeypatch.setattr(sys.modules["seeds.generate"], "CHUNK", SMALL_CHUNK)
    made = {
        "sqlite": sa.create_engine(f"sqlite:///{tmp_path / 'source.db'}"),
        "postgresql": sa.create_engine(postgres_url),
    }
    for engine in made.values():
        _generate(engine.url.render_as_string(hide_password=False))
    yield made
    for engine in made.values():
        engine.dispose()


@pytest.mark.postgres
def test_same_seed_same_source_on_sqlite_and_postgresql(engines):
    sqlite, postgres = engines["sqlite"], engines["postgresql"]
    assert check_invariants(sqlite) == []
    assert check_invariants(postgres) == []

    sqlite_rows, postgres_rows = _rows(sqlite), _rows(postgres)
    counts = _counts(sqlite_rows)
    assert counts == _counts(postgres_rows)
    # Every table has rows: the demo exercises the whole contract.
    assert all(counts.values()), {name: n for name, n in counts.items() if not n}
    assert counts["accounts_user"] >= CUSTOMERS
    money = _money_sums(sqlite)
    assert money == _money_sums(postgres)
    assert money[("orders_order", "total")] > 0
    for name in counts:
        assert sqlite_rows[name] == postgres_rows[name], name


@pytest.mark.postgres
def test_advance_keeps_both_backends_healthy_and_identical(engines):
    before = {backend: _rows(engine) for backend, engine in engines.items()}
    for engine in engines.values():
        seeds.advance(engine.url.render_as_string(hide_password=False), days=2, progress=False)
    after = {backend: _rows(engine) for backend, engine in engines.items()}

    for backend, engine in engines.items():
        assert check_invariants(engine) == [], backend
    assert _counts(after["sqlite"]) == _counts(after["postgresql"])
    assert _money_sums(engines["sqlite"]) == _money_sums(engines["postgresql"])
    for name in after["sqlite"]:
        assert after["sqlite"][name] == after["postgresql"][name], name
    assert after["sqlite"] != before["sqlite"]


@pytest.mark.postgres
def test_advance_updates_inserts_and_hard_deletes_on_postgresql(postgres_url):
    # Big enough for a few of the rare hard deletes (1% of orders are abandoned and purged;
    # an account is erased now and then) within the days advanced.
    _generate(postgres_url, customers=2000, days=30)
    engine = sa.create_engine(postgres_url)
    try:
        before = _ids_and_updates(engine)
        seeds.advance(postgres_url, days=5, progress=False)
        after = _ids_and_updates(engine)
        assert check_invariants(engine) == []
    finally:
        engine.dispose()

    new = {name: set(after[name]) - set(before[name]) for name in before}
    gone = {name: set(before[name]) - set(after[name]) for name in before}
    bumped = {
        name: {
            key
            for key, updated_at in before[name].items()
            if key in after[name] and after[name][key] is not None and after[name][key] > updated_at
        }
        for name in before
        if name not in APPEND_ONLY
    }
    assert new["orders_order"] and new["orders_orderitem"] and new["payments_payment"]
    assert new["loyalty_loyaltytransaction"]
    # Orders move along their lifecycle: pre-existing rows updated, updated_at bumped.
    assert bumped["orders_order"]
    assert sum(len(keys) for keys in bumped.values()) > len(bumped["orders_order"])
    # Hard deletes: abandoned orders purged with their items (and, now and then, an erased
    # account with everything that cascades from it); the invariants above found no
    # orphan left behind.
    assert gone["orders_order"] and gone["orders_orderitem"]
    assert len(gone["loyalty_loyaltyaccount"]) == len(gone["accounts_user"])
    # New rows take new ids: a deleted id is never handed out again.
    for name in before:
        if new[name] and before[name]:
            assert min(new[name]) > max(before[name]), name


@pytest.mark.postgres
def test_postgresql_sequences_continue_after_the_generated_ids(postgres_url):
    """The application inserts without an id after the seeder: the sequences must be past it."""
    _generate(postgres_url)
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            for table in TABLES:
                max_id = conn.execute(sa.select(sa.func.max(table.c.id))).scalar_one()
                next_id = conn.execute(
                    sa.text("select nextval(pg_get_serial_sequence(:table, 'id'))"),
                    {"table": table.name},
                ).scalar_one()
                assert next_id > (max_id or 0), table.name
    finally:
        engine.dispose()


def _ids_and_updates(engine: sa.Engine) -> dict[str, dict[int, object]]:
    """Per table: id → updated_at (None for the append-only tables)."""
    with engine.connect() as conn:
        return {
            table.name: dict(
                conn.execute(
                    sa.select(
                        table.c.id,
                        table.c.updated_at if "updated_at" in table.c else sa.null(),
                    )
                ).all()
            )
            for table in TABLES
        }
