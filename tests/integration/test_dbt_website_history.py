"""A website's currency or time zone change does not re-denominate or re-date history
(issue 15). The source keeps only the website's current row; the snapshot
`websites_snapshot` keeps its versions, and each timestamp takes the time zone in force at
that instant (`int_website_versions`). Amounts cannot be converted, so a currency change
under existing amounts is refused by an ERROR test naming the website, both currencies and
what to do, and nothing downstream is built.

Two dbt builds on a hand-made raw layer: before the change (the snapshot's first version)
and after it (the second version). Known answers, worked by hand in the comments.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import create_raw_schema, insert, run_dbt, ts

AS_OF = "2026-03-20"
#: Only what the case needs: the snapshot, the dated orders, the daily snapshot, and of
#: the tests only the guard (the others run on every build of tests/integration).
SELECT = (
    "--select", "+fct_daily_snapshot", "+int_website_currency_changes",
    "assert_no_amounts_in_a_replaced_currency", "--indirect-selection", "empty",
)  # fmt: skip


def _order(order_id: int, created: str, total: str) -> dict:
    when = ts(created)
    return {
        "id": order_id, "website_id": 1, "user_id": 1, "status": "delivered",
        "channel": "direct", "subtotal": Decimal(total), "discount_amount": Decimal(0),
        "delivery_fee": Decimal(0), "total": Decimal(total),
        "payment_method": "cash_on_delivery", "payment_status": "completed",
        "created_at": when, "updated_at": when,
    }  # fmt: skip


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Website 1 in Kampala (UTC+3), UGX, with two orders; built once (snapshot v1)."""
    path = tmp_path_factory.mktemp("history") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        create_raw_schema(con)
        insert(con, "accounts_website", [{
            "id": 1, "name": "site", "domain": "s.example", "currency": "UGX",
            "timezone": "Africa/Kampala", "created_at": ts("2026-03-01 00:00"),
            "updated_at": ts("2026-03-01 00:00"),
        }])  # fmt: skip
        insert(con, "accounts_user", [{
            "id": 1, "website_id": 1, "date_joined": ts("2026-03-01 00:00"), "is_active": True,
        }])  # fmt: skip
        insert(con, "orders_order", [
            # 22:30 UTC on 10 March is 01:30 on 11 March in Kampala.
            _order(1, "2026-03-10 22:30", "30000.00"),
            _order(2, "2026-03-12 09:00", "45000.00"),
        ])  # fmt: skip
    result = run_dbt(path, "build", *SELECT, as_of=AS_OF)
    assert result.returncode == 0, result.stdout[-5000:]
    _ran_at(path, "2026-03-14 02:00")
    return path


def _ran_at(path: Path, when: str) -> None:
    """Date the snapshot's run as if it had happened at `when` (UTC), in the past of the
    case's data, as a daily run would have."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            "update staging.websites_snapshot set dbt_valid_from = ?, dbt_updated_at = ?",
            [when, when],
        )


def _change(path: Path, tmp_path: Path, **values: str) -> Path:
    """A copy of the first build whose website row was saved with `values` at 12:00 on
    15 March (Django's save bumps updated_at), and an order placed after it."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(path, copy)
    with duckdb.connect(str(copy)) as con:
        sets = ", ".join(f"{k} = ?" for k in values)
        con.execute(
            f"update raw.accounts_website set {sets}, updated_at = ? where id = 1",
            [*values.values(), ts("2026-03-15 12:00")],
        )
        # 22:30 UTC on 16 March: 01:30 on the 17th in Kampala, 18:30 on the 16th in New York.
        insert(con, "orders_order", [_order(3, "2026-03-16 22:30", "25.50")])
    return copy


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_time_zone_change_does_not_move_earlier_orders(first_build, tmp_path):
    """Kampala → New York: order 1 stays on 11 March (Kampala), order 3 is on 16 March
    (New York, UTC-4 after the 8 March DST change), and the daily snapshot says so."""
    path = _change(first_build, tmp_path, timezone="America/New_York")
    result = run_dbt(path, "build", *SELECT, as_of=AS_OF)
    assert result.returncode == 0, result.stdout[-5000:]
    dated = _rows(
        path,
        "select order_id, cast(created_date as varchar) from intermediate.int_orders_dated "
        "order by order_id",
    )
    assert dated == [(1, "2026-03-11"), (2, "2026-03-12"), (3, "2026-03-16")]
    days = _rows(
        path,
        "select cast(business_date as varchar), total_orders, gross_revenue "
        "from marts.fct_daily_snapshot where total_orders > 0 order by 1",
    )
    assert days == [
        ("2026-03-11", 1, Decimal("30000.00")),
        ("2026-03-12", 1, Decimal("45000.00")),
        ("2026-03-16", 1, Decimal("25.50")),
    ]
    versions = _rows(
        path,
        "select timezone, currency, cast(valid_from as varchar), cast(valid_to as varchar) "
        "from intermediate.int_website_versions where website_id = 1 order by valid_from "
        "nulls first",
    )
    # The change is dated by the row's updated_at (12:00 on 15 March), not by the run.
    assert versions == [
        ("Africa/Kampala", "UGX", None, "2026-03-15 12:00:00+00"),
        ("America/New_York", "UGX", "2026-03-15 12:00:00+00", None),
    ]


def test_a_currency_change_under_existing_amounts_is_refused(first_build, tmp_path):
    """UGX → USD with 75,000 UGX of orders before it: adding 25.50 USD to them would
    re-denominate the history. The ERROR test fails (so nothing is published), its
    message in the run's log naming website, old and new currency and what to do."""
    path = _change(first_build, tmp_path, currency="USD")
    result = run_dbt(path, "build", *SELECT, as_of=AS_OF)
    assert result.returncode != 0
    assert "FAIL 1 assert_no_amounts_in_a_replaced_currency" in result.stdout, result.stdout
    failing = _rows(
        path,
        "select website_id, old_currency, new_currency, orders, message "
        "from intermediate.int_website_currency_changes",
    )
    assert len(failing) == 1
    website, old, new, orders, message = failing[0]
    assert (website, old, new, orders) == (1, "UGX", "USD", 2)
    assert "website 1" in message and "UGX" in message and "USD" in message
    assert "2026-03-15 12:00" in message and "2 orders" in message
    assert message in result.stdout


def test_a_currency_change_before_any_amount_is_accepted(tmp_path):
    """A website set up in the wrong currency and fixed before its first order: nothing
    was denominated in the old one, so nothing is refused."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        create_raw_schema(con)
        insert(con, "accounts_website", [{
            "id": 1, "name": "site", "domain": "s.example", "currency": "UGX",
            "timezone": "Africa/Kampala", "created_at": ts("2026-03-01 00:00"),
            "updated_at": ts("2026-03-01 00:00"),
        }])  # fmt: skip
    assert run_dbt(path, "build", *SELECT, as_of=AS_OF).returncode == 0
    _ran_at(path, "2026-03-01 06:00")
    with duckdb.connect(str(path)) as con:
        con.execute(
            "update raw.accounts_website set currency = 'USD', updated_at = ? where id = 1",
            [ts("2026-03-02 08:00")],
        )
        insert(con, "accounts_user", [{
            "id": 1, "website_id": 1, "date_joined": ts("2026-03-01 00:00"), "is_active": True,
        }])  # fmt: skip
        insert(con, "orders_order", [_order(1, "2026-03-05 10:00", "12.00")])
    result = run_dbt(path, "build", *SELECT, as_of=AS_OF)
    assert result.returncode == 0, result.stdout[-5000:]
    assert _rows(path, "select sum(gross_revenue) from marts.fct_daily_snapshot") == [
        (Decimal("12.00"),)
    ]
