"""The source schema is created identically on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import APPEND_ONLY, TABLES, metadata


def _shape(engine: sa.Engine) -> dict[str, list[tuple[str, str, bool]]]:
    """Each table's columns as (name, generic type, nullable), as the database reports them."""
    inspector = sa.inspect(engine)
    shape = {}
    for name in sorted(inspector.get_table_names()):
        shape[name] = [
            (col["name"], type(col["type"]._type_affinity or col["type"]).__name__, col["nullable"])
            for col in inspector.get_columns(name)
        ]
    return shape


def test_schema_has_every_table_of_the_contract():
    assert len(TABLES) == 24
    # Recipients are no longer append-only: opens and clicks update them (SOURCE_SCHEMA.md).
    assert APPEND_ONLY == {
        "payments_refund",
        "vip_vipupgrade",
        "loyalty_loyaltytransaction",
    }
    orders = metadata.tables["orders_order"]
    assert isinstance(orders.c.total.type, sa.Numeric)
    assert (orders.c.total.type.precision, orders.c.total.type.scale) == (12, 2)
    assert orders.c.created_at.type.timezone is True


def test_every_foreign_key_declares_djangos_on_delete():
    rules = {
        (table.name, column.name): column.info["on_delete"]
        for table in TABLES
        for column in table.columns
        if column.foreign_keys
    }
    assert set(rules.values()) == {"CASCADE", "SET_NULL", "PROTECT"}
    assert rules[("orders_order", "user_id")] == "CASCADE"
    assert rules[("accounts_user", "referred_by_id")] == "SET_NULL"
    assert rules[("orders_orderitem", "meal_id")] == "PROTECT"


@pytest.mark.postgres
def test_schema_is_the_same_on_sqlite_and_postgresql(tmp_path, postgres_url):
    sqlite = sa.create_engine(f"sqlite:///{tmp_path / 'source.db'}")
    postgres = sa.create_engine(postgres_url)
    metadata.create_all(sqlite)
    metadata.create_all(postgres)
    sqlite_shape, postgres_shape = _shape(sqlite), _shape(postgres)
    assert sqlite_shape == postgres_shape
    assert len(sqlite_shape) == 24
    with postgres.connect() as conn:
        timestamp_types = conn.execute(
            sa.text(
                "select distinct data_type from information_schema.columns "
                "where column_name like '%\\_at' and table_schema = 'public'"
            )
        ).scalars().all()
    postgres.dispose()
    assert timestamp_types == ["timestamp with time zone"]
