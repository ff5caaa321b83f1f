"""The contract's rules (models.rules): a tiny healthy source passes; each break is reported
exactly once; the seeder's `check_invariants` and the raw checks use the same rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from models import metadata
from models.rules import RULE_NAMES, MissingTablesError, Violation, check_rules
from seeds.errors import SourceError
from seeds.invariants import check_invariants

T0 = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)
D = Decimal

#: A tiny source that keeps every invariant: one row or two per table.
# fmt: off
HEALTHY: dict[str, list[dict]] = {
    "accounts_website": [
        dict(id=1, name="Kampala Meals", domain="meals.ug", currency="UGX",
             timezone="Africa/Kampala", created_at=T0, updated_at=T0),
    ],
    "accounts_user": [
        dict(id=1, website_id=1, email="a@x.ug", phone="+256700000001", first_name="Amara",
             last_name="Okello", is_active=True, referred_by_id=None, date_joined=T0,
             updated_at=T0),
        dict(id=2, website_id=1, email="b@x.ug", phone="+256700000002", first_name="Brian",
             last_name="Mugisha", is_active=True, referred_by_id=1, date_joined=T0, updated_at=T0),
    ],
    "menu_meal": [
        dict(id=1, website_id=1, name="Rolex", category="breakfast", price=D("5000.00"),
             is_active=True, created_at=T0, updated_at=T0),
        dict(id=2, website_id=1, name="Luwombo", category="lunch", price=D("12500.50"),
             is_active=True, created_at=T0, updated_at=T0),
    ],
    "campaigns_campaign": [
        dict(id=1, website_id=1, name="New year", description="10% off", discount_type="percent",
             discount_value=D("10.00"), status="active", start_date=T0, end_date=T0,
             target_audience="all", budget=D("100000.00"), created_at=T0, updated_at=T0),
    ],
    "campaigns_campaignrecipient": [
        dict(id=1, campaign_id=1, user_id=2, variant="A", sent_at=T0, created_at=T0,
             channel="sms", opened_at=T0 + dt.timedelta(minutes=3),
             clicked_at=T0 + dt.timedelta(minutes=4), updated_at=T0 + dt.timedelta(minutes=4)),
    ],
    "orders_order": [
        # 2 × 5000.00 + 1 × 12500.50 = 22500.50; − 2250.05 + 3000.00 = 23250.45
        dict(id=1, website_id=1, user_id=1, status="delivered", channel="direct",
             subtotal=D("22500.50"), discount_amount=D("2250.05"), discount_type="campaign",
             delivery_fee=D("3000.00"), total=D("23250.45"), payment_method="mtn_mobile_money",
             payment_status="completed", campaign_id=1, loyalty_points_used=0, created_at=T0,
             updated_at=T0 + dt.timedelta(minutes=40), delivered_at=T0 + dt.timedelta(minutes=40),
             cancelled_at=None, confirmed_at=T0 + dt.timedelta(minutes=2),
             prepared_at=T0 + dt.timedelta(minutes=20)),
        # An order without items: subtotal 0.
        dict(id=2, website_id=1, user_id=2, status="pending", channel="catering",
             subtotal=D("0.00"), discount_amount=D("0.00"), discount_type=None,
             delivery_fee=D("1500.00"), total=D("1500.00"), payment_method="cash_on_delivery",
             payment_status="pending", campaign_id=None, loyalty_points_used=0, created_at=T0,
             updated_at=T0, delivered_at=None, cancelled_at=None, confirmed_at=None,
             prepared_at=None),
    ],
    "orders_orderitem": [
        dict(id=1, order_id=1, meal_id=1, quantity=2, unit_price=D("5000.00"),
             line_total=D("10000.00"), created_at=T0, updated_at=T0),
        dict(id=2, order_id=1, meal_id=2, quantity=1, unit_price=D("12500.50"),
             line_total=D("12500.50"), created_at=T0, updated_at=T0),
    ],
    "delivery_delivery": [
        dict(id=1, order_id=1, rider_name="Sam", status="delivered", assigned_at=T0,
             picked_up_at=T0, delivered_at=T0, distance_km=D("3.20"), created_at=T0, updated_at=T0),
    ],
    "payments_payment": [
        dict(id=1, website_id=1, user_id=1, purpose="order", order_id=1, reference_id=None,
             method="mtn_mobile_money", amount=D("23250.45"), status="completed",
             provider_reference="MTN-1", created_at=T0, updated_at=T0, completed_at=T0),
        dict(id=2, website_id=1, user_id=2, purpose="subscription", order_id=None, reference_id=1,
             method="airtel_money", amount=D("60000.00"), status="pending",
             provider_reference="AIR-2", created_at=T0, updated_at=T0, completed_at=None),
    ],
    "payments_refund": [
        # Two refunds that add up to exactly the payment: allowed.
        dict(id=1, payment_id=1, amount=D("23000.00"), reason="late", created_at=T0),
        dict(id=2, payment_id=1, amount=D("250.45"), reason="cold", created_at=T0),
    ],
    "subscriptions_plan": [
        dict(id=1, website_id=1, name="Weekly 5", price=D("60000.00"), interval="weekly",
             meals_per_week=5, is_active=True, created_at=T0, updated_at=T0),
    ],
    "subscriptions_subscription": [
        dict(id=1, user_id=2, plan_id=1, status="ACTIVE", started_at=T0,
             current_period_end=T0 + dt.timedelta(days=7), cancelled_at=None, created_at=T0,
             updated_at=T0),
    ],
    "vip_viptier": [
        dict(id=1, user_id=1, tier_level="gold", discount_percent=D("10.00"), upgraded_at=T0,
             expires_at=None, created_at=T0, updated_at=T0),
    ],
    "vip_vipupgrade": [
        dict(id=1, user_id=1, from_tier=None, to_tier="silver", price=D("20000.00"), created_at=T0),
        dict(id=2, user_id=1, from_tier="silver", to_tier="gold", price=D("30000.00"),
             created_at=T0),
    ],
    "loyalty_loyaltyaccount": [
        # Ledger: +1200 +100 −300 → balance 1000, lifetime 1300: silver.
        dict(id=1, website_id=1, user_id=1, points_balance=1000, lifetime_points=1300,
             tier="silver", created_at=T0, updated_at=T0),
        # No ledger entries at all: 0, 0, bronze.
        dict(id=2, website_id=1, user_id=2, points_balance=0, lifetime_points=0, tier="bronze",
             created_at=T0, updated_at=T0),
    ],
    "loyalty_redemptionitem": [
        dict(id=1, website_id=1, name="Free juice", category="drinks", item_type="free_meal",
             points_required=300, value_amount=D("4000.00"), is_active=True, created_at=T0,
             updated_at=T0),
    ],
    "loyalty_redemption": [
        dict(id=1, account_id=1, item_id=1, points_spent=300, status="completed", created_at=T0,
             updated_at=T0),
    ],
    "loyalty_loyaltytransaction": [
        dict(id=1, account_id=1, points=1200, transaction_type="earn", source="order", order_id=1,
             redemption_id=None, created_at=T0),
        dict(id=2, account_id=1, points=100, transaction_type="bonus", source="referral",
             order_id=None, redemption_id=None, created_at=T0),
        dict(id=3, account_id=1, points=-300, transaction_type="redeem", source="redemption",
             order_id=None, redemption_id=1, created_at=T0),
    ],
    "referrals_referral": [
        dict(id=1, referrer_id=1, referee_id=2, status="rewarded", bonus_amount=D("5000.00"),
             rewarded_at=T0, created_at=T0, updated_at=T0),
    ],
    "corporate_contract": [
        dict(id=1, website_id=1, company_name="Acme", contract_value=D("1500000.00"),
             billing_cycle="monthly", start_date=dt.date(2026, 1, 1),
             end_date=dt.date(2026, 12, 31), status="active", created_at=T0, updated_at=T0),
    ],
    "catering_booking": [
        dict(id=1, website_id=1, user_id=2, event_date=dt.date(2026, 2, 14), guests=40,
             amount=D("800000.00"), status="confirmed", created_at=T0, updated_at=T0),
    ],
    "support_ticket": [
        dict(id=1, website_id=1, user_id=1, category="delivery", priority="high",
             status="resolved", created_at=T0, first_response_at=T0, resolved_at=T0, updated_at=T0,
             assigned_agent="Grace"),
    ],
    "health_healthprofile": [
        dict(id=1, user_id=2, dietary_goal="diabetic_friendly", allergies="peanuts",
             daily_calorie_target=1900, activity_level="moderate", created_at=T0, updated_at=T0),
    ],
    "nutrition_consultation": [
        dict(id=1, website_id=1, user_id=2, nutritionist_name="Dr. Nansubuga", scheduled_at=T0,
             status="completed", fee=D("50000.00"), created_at=T0, updated_at=T0),
    ],
}
# fmt: on


@pytest.fixture
def source(tmp_path) -> sa.Engine:
    """The healthy tiny source in a SQLite file (foreign keys unenforced, as SQLite does)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'source.db'}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            conn.execute(table.insert(), HEALTHY[table.name])
    yield engine
    engine.dispose()


def test_every_table_has_healthy_rows():
    assert set(HEALTHY) == set(metadata.tables)


def test_a_healthy_source_has_no_violations(source):
    assert check_rules(source) == []


def test_a_url_works_as_well_as_an_engine(source):
    assert check_rules(source.url) == []
    assert check_rules(str(source.url.render_as_string(hide_password=False))) == []


# Each case: SQL that breaks the healthy source once, and the one violation it must cause.
BREAKS = {
    "ledger_balance": (
        "update loyalty_loyaltyaccount set points_balance = 999 where id = 1",
        ("loyalty_loyaltyaccount", 1, "points_balance"),
    ),
    "ledger_entry_without_balance": (
        # A new ledger entry on an account that has none: the balance no longer matches.
        "insert into loyalty_loyaltytransaction values "
        "(4, 2, -5, 'expire', 'manual', null, null, '2026-01-05 09:30:00')",
        ("loyalty_loyaltyaccount", 2, "points_balance"),
    ),
    "lifetime_points": (
        # Tier stays silver (1000 ≤ 1400 < 5000), so only lifetime_points breaks.
        "update loyalty_loyaltyaccount set lifetime_points = 1400 where id = 1",
        ("loyalty_loyaltyaccount", 1, "lifetime_points"),
    ),
    "loyalty_tier_too_low": (
        "update loyalty_loyaltyaccount set tier = 'bronze' where id = 1",
        ("loyalty_loyaltyaccount", 1, "loyalty_tier"),
    ),
    "loyalty_tier_too_high": (
        "update loyalty_loyaltyaccount set tier = 'platinum' where id = 2",
        ("loyalty_loyaltyaccount", 2, "loyalty_tier"),
    ),
    "redeem_without_redemption": (
        "update loyalty_loyaltytransaction set redemption_id = null where id = 3",
        ("loyalty_loyaltytransaction", 3, "redeem_redemption"),
    ),
    "redeem_points": (
        "update loyalty_redemption set points_spent = 250 where id = 1",
        ("loyalty_loyaltytransaction", 3, "redeem_points"),
    ),
    "order_total": (
        "update orders_order set total = 23250.46 where id = 1",
        ("orders_order", 1, "order_total"),
    ),
    "order_subtotal": (
        # total moves with the subtotal, so only the items' sum disagrees.
        "update orders_order set subtotal = 1000.00, total = 2500.00 where id = 2",
        ("orders_order", 2, "order_subtotal"),
    ),
    "order_item_line_total": (
        "update orders_orderitem set line_total = 10000.01 where id = 1",
        ("orders_order", 1, "order_subtotal"),
    ),
    "completed_payment_without_completed_at": (
        "update payments_payment set completed_at = null where id = 1",
        ("payments_payment", 1, "completed_at"),
    ),
    "refunds_exceed_payment": (
        "update payments_refund set amount = 250.46 where id = 2",
        ("payments_payment", 1, "refund_exceeds_payment"),
    ),
    "choice": (
        "update orders_order set channel = 'drone' where id = 2",
        ("orders_order", 2, "choice"),
    ),
    "choice_nullable": (
        "update orders_order set discount_type = 'coupon' where id = 2",
        ("orders_order", 2, "choice"),
    ),
    "choice_case_matters": (
        "update subscriptions_subscription set status = 'active' where id = 1",
        ("subscriptions_subscription", 1, "choice"),
    ),
    "orphan": (
        "update orders_orderitem set meal_id = 99 where id = 2",
        ("orders_orderitem", 2, "orphan"),
    ),
    "orphan_self_reference": (
        "update accounts_user set referred_by_id = 7 where id = 2",
        ("accounts_user", 2, "orphan"),
    ),
    "clean_delete_of_leaves": (
        "delete from catering_booking where id = 1; "
        "delete from nutrition_consultation; delete from subscriptions_subscription; "
        "delete from campaigns_campaignrecipient; delete from referrals_referral; "
        "delete from vip_viptier; delete from vip_vipupgrade",
        None,  # a clean delete of leaves leaves no orphan: see the next case
    ),
    "order_events_out_of_order": (
        # Ready before the kitchen accepted it.
        "update orders_order set prepared_at = '2026-01-05 09:31:00' where id = 1",
        ("orders_order", 1, "event_order"),
    ),
    "order_events_skip_a_null": (
        # No prepared_at: confirmed_at is still compared with delivered_at.
        "update orders_order set prepared_at = null, confirmed_at = '2026-01-05 11:00:00' "
        "where id = 1",
        ("orders_order", 1, "event_order"),
    ),
    "recipient_clicked_before_opened": (
        "update campaigns_campaignrecipient set clicked_at = '2026-01-05 09:32:00' where id = 1",
        ("campaigns_campaignrecipient", 1, "event_order"),
    ),
    "orphan_health_profile": (
        "update health_healthprofile set user_id = 9 where id = 1",
        ("health_healthprofile", 1, "orphan"),
    ),
    "orphan_parent_deleted": (
        "delete from delivery_delivery; delete from payments_refund; "
        "delete from orders_orderitem where order_id = 1; "
        "delete from loyalty_loyaltytransaction where order_id = 1; "
        "update loyalty_loyaltyaccount set points_balance = -200, lifetime_points = 100, "
        "tier = 'bronze' where id = 1; delete from orders_order where id = 1",
        ("payments_payment", 1, "orphan"),
    ),
}


@pytest.mark.parametrize("case", BREAKS, ids=list(BREAKS))
def test_each_break_is_reported_once(source, case):
    sql, expected = BREAKS[case]
    raw = source.raw_connection()
    try:
        raw.executescript(sql)
        raw.commit()
    finally:
        raw.close()
    found = check_rules(source)
    assert [(v.table, v.key, v.rule) for v in found] == ([expected] if expected else [])
    for violation in found:
        assert isinstance(violation, Violation)
        assert violation.detail


def test_a_duplicate_vip_tier_per_user_is_reported(source):
    """The schema makes vip_viptier.user_id UNIQUE; a source created otherwise may repeat it."""
    table = metadata.tables["vip_viptier"]
    ddl = str(CreateTable(table).compile(source))
    assert "UNIQUE (user_id)" in ddl
    with source.begin() as conn:
        rows = conn.execute(sa.select(table)).mappings().all()
        conn.exec_driver_sql("drop table vip_viptier")
        conn.exec_driver_sql(ddl.replace("UNIQUE (user_id),", ""))
        conn.execute(table.insert(), [dict(row) for row in rows])
        conn.execute(table.insert(), dict(rows[0], id=5, tier_level="platinum"))
    assert check_rules(source) == [
        Violation("vip_viptier", 5, "unique", "user_id=1 is already on id=1")
    ]


def test_violations_name_the_row_and_explain(source):
    with source.begin() as conn:
        conn.exec_driver_sql("update orders_order set total = 1.00 where id = 1")
        conn.exec_driver_sql("update orders_order set status = 'lost' where id = 2")
    found = check_rules(source)
    assert found == [
        Violation(
            "orders_order",
            1,
            "order_total",
            "total=1.00 but subtotal − discount + delivery fee = 23250.45",
        ),
        Violation(
            "orders_order",
            2,
            "choice",
            "status='lost' is not one of ('pending', 'confirmed', 'preparing', "
            "'out_for_delivery', 'delivered', 'cancelled')",
        ),
    ]
    assert str(found[0]).startswith("orders_order id=1: order_total: total=1.00")


def test_half_a_cent_is_the_money_tolerance(source):
    """SQLite's float sums are not a break; a whole cent is."""
    with source.begin() as conn:
        conn.exec_driver_sql("update orders_order set total = 23250.454 where id = 1")
    assert check_rules(source) == []
    with source.begin() as conn:
        conn.exec_driver_sql("update orders_order set total = 23250.44 where id = 1")
    assert [v.rule for v in check_rules(source)] == ["order_total"]


@pytest.mark.postgres
def test_the_same_checks_hold_on_postgresql(postgres_url):
    """Exact NUMERIC and enforced constraints: every break PostgreSQL accepts, found alike.

    One database; each break runs in a transaction that is rolled back afterwards.
    """
    engine = sa.create_engine(postgres_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                conn.execute(table.insert(), HEALTHY[table.name])
        assert check_rules(engine) == []
        checked = []
        for case, (sql, expected) in BREAKS.items():
            if case.startswith("orphan"):
                continue  # PostgreSQL enforces the foreign keys
            with engine.connect() as conn:
                transaction = conn.begin()
                for statement in sql.split(";"):
                    conn.exec_driver_sql(statement)
                found = [(v.table, v.key, v.rule) for v in check_rules(conn)]
                transaction.rollback()
            assert found == ([expected] if expected else []), case
            checked.append(case)
        assert len(checked) == len(BREAKS) - 4
        assert check_rules(postgres_url) == []
    finally:
        engine.dispose()


def test_a_missing_table_is_an_error_not_a_verdict(source):
    with source.begin() as conn:
        conn.exec_driver_sql("drop table support_ticket")
    message = r"1 of its 24 tables are missing \(support_ticket\)"
    with pytest.raises(MissingTablesError, match=message) as raised:
        check_rules(source)
    assert raised.value.missing == ("support_ticket",)
    # The seeder reports it as its own one-line error.
    with pytest.raises(SourceError, match=message):
        check_invariants(source)


def test_an_older_source_is_judged_on_what_it_has(source):
    """A source at the contract's first version (no health profiles, no kitchen times, no
    recipient channel, no ticket agent) is a source: the rules skip what it lacks."""
    from models.schema import ADDED

    old = {
        name: [c.name for c in metadata.tables[name].columns if c.name not in added]
        for name, added in ADDED.items()
    }
    with source.begin() as conn:
        conn.exec_driver_sql("drop table health_healthprofile")
        for name, keep in old.items():
            if not keep:
                continue
            cols = ", ".join(keep)
            conn.exec_driver_sql(f"create table _old as select {cols} from {name}")
            conn.exec_driver_sql(f"drop table {name}")
            conn.exec_driver_sql(f"alter table _old rename to {name}")
    assert check_rules(source) == []
    with source.begin() as conn:
        conn.exec_driver_sql("update orders_order set channel = 'drone' where id = 2")
    assert [(v.table, v.key, v.rule) for v in check_rules(source)] == [
        ("orders_order", 2, "choice")
    ]


def test_the_seeder_checks_with_the_contract_rules(source):
    assert check_invariants(source) == []
    with source.begin() as conn:
        conn.exec_driver_sql("update orders_order set status = 'lost' where id = 2")
    assert check_invariants(source) == check_rules(source) != []


def test_every_rule_name_is_a_raw_quality_check():
    """A rule added to the contract reaches a raw check, not a silently dropped group."""
    from pipelines.defs.raw.quality import CHECKS

    grouped = {name for check in CHECKS.values() for name in check.rules}
    assert RULE_NAMES <= grouped, sorted(RULE_NAMES - grouped)
    assert {case[1][2] for case in BREAKS.values() if case[1]} <= RULE_NAMES
