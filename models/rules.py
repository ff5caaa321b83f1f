"""The rules of a healthy operational database (SOURCE_SCHEMA.md), checked in SQL.

The source contract's own judge: the seeder promises to keep these rules (its tests hold it
to them), the production raw checks (`pipelines.defs.raw.quality`) run the same queries on
the warehouse's copy, and anyone can point `check_rules` at a real source to see where it
breaks. Every rule is one portable SQLAlchemy Core query (SQLite, PostgreSQL and DuckDB
alike) that returns the offending rows, so a broken source is reported row by row, never
silently repaired.

Money is NUMERIC(12,2), exact on PostgreSQL; SQLite hands sums back as floats, so money is
compared with a tolerance of half a cent. Points are integers and compared exactly.

A source at an older version of the contract (models.schema.ADDED) lacks a few columns and
tables: the rules judge what it has and skip what it lacks (a rule about a missing column
finds nothing), so an older source is judged, not refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from models.schema import ADDED_TABLES, TABLES, metadata
from models.thresholds import LOYALTY_TIER_THRESHOLDS

#: Money within half a cent is equal: SQLite sums NUMERIC(12,2) as binary floats.
MONEY_TOLERANCE = 0.005


class MissingTablesError(LookupError):
    """The database lacks tables of the contract: it is no source to judge."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            f"not a source: {len(missing)} of its {len(TABLES)} tables are missing "
            f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
        )


@dataclass(frozen=True, order=True)
class Violation:
    """One row of one table that breaks one rule."""

    table: str
    key: int  # the row's `id`
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.table} id={self.key}: {self.rule}: {self.detail}"


#: A rule: every row of the connected source that breaks it, as Violations.
Rule = Callable[[sa.Connection], Iterator[Violation]]
_rules: list[Rule] = []
_rule_names: list[str] = []


def _rule(*names: str) -> Callable[[Rule], Rule]:
    """Register a rule, with the `Violation.rule` names it reports."""

    def register(func: Rule) -> Rule:
        _rules.append(func)
        _rule_names.extend(names)
        return func

    return register


def _t(name: str) -> sa.Table:
    return metadata.tables[name]


def _present(conn: sa.Connection) -> dict[str, set[str]]:
    """The contract's tables that the connected database has, with their columns.

    SQLite through its inspector; every other engine through information_schema in the
    current schema (DuckDB's `raw` after `USE raw`, where SQLAlchemy's inspector fails).
    """
    if conn.dialect.name == "sqlite":
        inspector = sa.inspect(conn)
        names = set(inspector.get_table_names()) & set(metadata.tables)
        return {n: {c["name"] for c in inspector.get_columns(n)} for n in names}
    rows = conn.execute(
        sa.text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
    )
    found: dict[str, set[str]] = {}
    for table, column in rows:
        if table in metadata.tables:
            found.setdefault(table, set()).add(column)
    return found


def _columns_present(conn: sa.Connection) -> Iterator[tuple[sa.Table, sa.Column]]:
    """Every (table, column) of the contract that the connected database has."""
    present = _present(conn)
    for table in TABLES:
        for column in table.columns:
            if column.name in present.get(table.name, ()):
                yield table, column


def _has(conn: sa.Connection, table: str, *columns: str) -> bool:
    return set(columns) <= _present(conn).get(table, set())


def _money_differs(left: sa.ColumnElement, right: sa.ColumnElement) -> sa.ColumnElement[bool]:
    return sa.func.abs(left - right) > MONEY_TOLERANCE


def _money(value: object) -> str:
    return f"{float(value):.2f}"


@_rule("choice")
def _choices(conn: sa.Connection) -> Iterator[Violation]:
    """A choice column holds only the values of its `info["choices"]` (or NULL if nullable)."""
    for table, column in _columns_present(conn):
        choices = column.info.get("choices")
        if choices:
            query = (
                sa.select(table.c.id, column)
                .where(column.is_not(None), column.not_in(choices))
                .order_by(table.c.id)
            )
            for key, value in conn.execute(query):
                yield Violation(
                    table.name, key, "choice", f"{column.name}={value!r} is not one of {choices}"
                )


@_rule("orphan")
def _orphans(conn: sa.Connection) -> Iterator[Violation]:
    """Every foreign key points at an existing row (SQLite does not enforce them)."""
    present = _present(conn)
    for table, column in _columns_present(conn):
        for fk in column.foreign_keys:
            if fk.column.table.name in present:
                parent = fk.column.table.alias("parent")
                query = (
                    sa.select(table.c.id, column)
                    .select_from(table.outerjoin(parent, column == parent.c[fk.column.name]))
                    .where(column.is_not(None), parent.c[fk.column.name].is_(None))
                    .order_by(table.c.id)
                )
                for key, value in conn.execute(query):
                    yield Violation(
                        table.name,
                        key,
                        "orphan",
                        f"{column.name}={value} has no row in {fk.column.table.name}",
                    )


@_rule("unique")
def _unique(conn: sa.Connection) -> Iterator[Violation]:
    """A unique column (vip_viptier.user_id, loyalty account user_id, …) repeats no value.

    The schema declares these UNIQUE, but a real source may have been created otherwise;
    every row after the first of its value is reported.
    """
    for table, column in _columns_present(conn):
        if column.unique:
            first = (
                sa.select(column.label("value"), sa.func.min(table.c.id).label("first_id"))
                .where(column.is_not(None))
                .group_by(column)
                .having(sa.func.count() > 1)
                .subquery("first")
            )
            query = (
                sa.select(table.c.id, column, first.c.first_id)
                .join(first, column == first.c.value)
                .where(table.c.id != first.c.first_id)
                .order_by(table.c.id)
            )
            for key, value, first_id in conn.execute(query):
                yield Violation(
                    table.name,
                    key,
                    "unique",
                    f"{column.name}={value!r} is already on id={first_id}",
                )


def _ledger_sums() -> sa.Subquery:
    ledger = _t("loyalty_loyaltytransaction")
    return (
        sa.select(
            ledger.c.account_id,
            sa.func.sum(ledger.c.points).label("balance"),
            sa.func.sum(sa.case((ledger.c.points > 0, ledger.c.points), else_=0)).label("earned"),
        )
        .group_by(ledger.c.account_id)
        .subquery("ledger")
    )


@_rule("points_balance", "lifetime_points")
def _loyalty_balances(conn: sa.Connection) -> Iterator[Violation]:
    """points_balance = Σ ledger points; lifetime_points = Σ positive ledger points."""
    account = _t("loyalty_loyaltyaccount")
    ledger = _ledger_sums()
    balance = sa.func.coalesce(ledger.c.balance, 0)
    earned = sa.func.coalesce(ledger.c.earned, 0)
    query = (
        sa.select(
            account.c.id, account.c.points_balance, balance, account.c.lifetime_points, earned
        )
        .select_from(account.outerjoin(ledger, ledger.c.account_id == account.c.id))
        .where(sa.or_(account.c.points_balance != balance, account.c.lifetime_points != earned))
        .order_by(account.c.id)
    )
    for key, stored_balance, ledger_balance, stored_lifetime, ledger_earned in conn.execute(query):
        if stored_balance != ledger_balance:
            yield Violation(
                account.name,
                key,
                "points_balance",
                f"points_balance={stored_balance} but the ledger sums to {ledger_balance}",
            )
        if stored_lifetime != ledger_earned:
            yield Violation(
                account.name,
                key,
                "lifetime_points",
                f"lifetime_points={stored_lifetime} but the ledger earned {ledger_earned}",
            )


@_rule("loyalty_tier")
def _loyalty_tiers(conn: sa.Connection) -> Iterator[Violation]:
    """An account's tier is the one its lifetime points reach (LOYALTY_TIER_THRESHOLDS)."""
    account = _t("loyalty_loyaltyaccount")
    lifetime = account.c.lifetime_points
    expected = sa.case(
        *[
            (lifetime >= threshold, tier)
            for tier, threshold in reversed(LOYALTY_TIER_THRESHOLDS)
            if threshold > 0
        ],
        else_=LOYALTY_TIER_THRESHOLDS[0][0],
    )
    query = (
        sa.select(account.c.id, account.c.tier, lifetime, expected)
        .where(account.c.tier != expected)
        .order_by(account.c.id)
    )
    for key, tier, points, should_be in conn.execute(query):
        yield Violation(
            account.name,
            key,
            "loyalty_tier",
            f"tier={tier!r} but lifetime_points={points} makes it {should_be!r}",
        )


@_rule("redeem_redemption", "redeem_points")
def _redeem_entries(conn: sa.Connection) -> Iterator[Violation]:
    """A redeem entry carries its redemption_id, and its points = −points_spent."""
    ledger = _t("loyalty_loyaltytransaction")
    redemption = _t("loyalty_redemption")
    redeem = ledger.c.transaction_type == "redeem"
    missing = (
        sa.select(ledger.c.id).where(redeem, ledger.c.redemption_id.is_(None)).order_by(ledger.c.id)
    )
    for (key,) in conn.execute(missing):
        yield Violation(
            ledger.name, key, "redeem_redemption", "a redeem entry without redemption_id"
        )
    mismatched = (
        sa.select(ledger.c.id, ledger.c.points, redemption.c.id, redemption.c.points_spent)
        .join(redemption, ledger.c.redemption_id == redemption.c.id)
        .where(redeem, ledger.c.points != -redemption.c.points_spent)
        .order_by(ledger.c.id)
    )
    for key, points, redemption_id, spent in conn.execute(mismatched):
        yield Violation(
            ledger.name,
            key,
            "redeem_points",
            f"points={points} but redemption {redemption_id} spent {spent}",
        )


@_rule("order_total")
def _order_totals(conn: sa.Connection) -> Iterator[Violation]:
    """total = subtotal − discount_amount + delivery_fee."""
    order = _t("orders_order")
    expected = order.c.subtotal - order.c.discount_amount + order.c.delivery_fee
    query = (
        sa.select(order.c.id, order.c.total, expected)
        .where(_money_differs(order.c.total, expected))
        .order_by(order.c.id)
    )
    for key, total, should_be in conn.execute(query):
        yield Violation(
            order.name,
            key,
            "order_total",
            f"total={_money(total)} but subtotal − discount + delivery fee = {_money(should_be)}",
        )


@_rule("order_subtotal")
def _order_subtotals(conn: sa.Connection) -> Iterator[Violation]:
    """subtotal = Σ the order's items' line_total (0 for an order without items)."""
    order = _t("orders_order")
    item = _t("orders_orderitem")
    items = (
        sa.select(item.c.order_id, sa.func.sum(item.c.line_total).label("lines"))
        .group_by(item.c.order_id)
        .subquery("items")
    )
    lines = sa.func.coalesce(items.c.lines, 0)
    query = (
        sa.select(order.c.id, order.c.subtotal, lines)
        .select_from(order.outerjoin(items, items.c.order_id == order.c.id))
        .where(_money_differs(order.c.subtotal, lines))
        .order_by(order.c.id)
    )
    for key, subtotal, line_sum in conn.execute(query):
        yield Violation(
            order.name,
            key,
            "order_subtotal",
            f"subtotal={_money(subtotal)} but its items sum to {_money(line_sum)}",
        )


@_rule("completed_at")
def _completed_payments(conn: sa.Connection) -> Iterator[Violation]:
    """A completed payment has completed_at."""
    payment = _t("payments_payment")
    query = (
        sa.select(payment.c.id)
        .where(payment.c.status == "completed", payment.c.completed_at.is_(None))
        .order_by(payment.c.id)
    )
    for (key,) in conn.execute(query):
        yield Violation(
            payment.name, key, "completed_at", "status='completed' without completed_at"
        )


@_rule("refund_exceeds_payment")
def _refunds(conn: sa.Connection) -> Iterator[Violation]:
    """The refunds of a payment never add up to more than the payment."""
    payment = _t("payments_payment")
    refund = _t("payments_refund")
    refunds = (
        sa.select(refund.c.payment_id, sa.func.sum(refund.c.amount).label("refunded"))
        .group_by(refund.c.payment_id)
        .subquery("refunds")
    )
    query = (
        sa.select(payment.c.id, payment.c.amount, refunds.c.refunded)
        .join(refunds, refunds.c.payment_id == payment.c.id)
        .where(refunds.c.refunded - payment.c.amount > MONEY_TOLERANCE)
        .order_by(payment.c.id)
    )
    for key, amount, refunded in conn.execute(query):
        yield Violation(
            payment.name,
            key,
            "refund_exceeds_payment",
            f"refunds sum to {_money(refunded)}, more than the amount {_money(amount)}",
        )


#: Events of a row in the order they happen; each one present is no earlier than those
#: before it that are present (a NULL is an event that has not happened).
EVENT_SEQUENCES: dict[str, tuple[str, ...]] = {
    "orders_order": ("confirmed_at", "prepared_at", "delivered_at"),
    "campaigns_campaignrecipient": ("sent_at", "opened_at", "clicked_at"),
}


@_rule("event_order")
def _event_order(conn: sa.Connection) -> Iterator[Violation]:
    """confirmed_at ≤ prepared_at ≤ delivered_at, sent_at ≤ opened_at ≤ clicked_at, where
    present; a source without these columns (an older version) has nothing to judge."""
    for name, events in EVENT_SEQUENCES.items():
        if not _has(conn, name, *events):
            continue
        table = _t(name)
        pairs = [(a, b) for i, a in enumerate(events) for b in events[i + 1 :]]
        query = (
            sa.select(table.c.id, *(table.c[e] for e in events))
            .where(sa.or_(*(table.c[a] > table.c[b] for a, b in pairs)))
            .order_by(table.c.id)
        )
        for key, *values in conn.execute(query):
            at = dict(zip(events, values, strict=True))
            a, b = next(
                (a, b) for a, b in pairs if None not in (at[a], at[b]) and at[a] > at[b]
            )
            yield Violation(name, key, "event_order", f"{a}={at[a]} is after {b}={at[b]}")


#: Every rule of the contract, in the order they run.
RULES: tuple[Rule, ...] = tuple(_rules)
#: Every `Violation.rule` name that RULES report.
RULE_NAMES: frozenset[str] = frozenset(_rule_names)


def check_rules(source: sa.Engine | sa.Connection | str | sa.URL) -> list[Violation]:
    """Every break of SOURCE_SCHEMA.md's rules in the source, sorted; [] if healthy.

    Checks the business rules (loyalty balances and tiers, redeem entries, order totals and
    subtotals, completed payments, refunds, the order of each row's events) and the
    schema-level facts that the database itself may not enforce (choice values, foreign
    keys, unique columns). Reads only, in one transaction, so a source that is being
    written to is judged at one point in time. A Connection is used as it is, inside
    whatever transaction it has open.

    Raises MissingTablesError when a table of the contract's first version is missing: that
    is no source to judge (a table a later version added may be missing: an older source).
    """
    if isinstance(source, sa.Connection):
        return _run(source)
    owned = not isinstance(source, sa.Engine)
    engine = sa.create_engine(source) if owned else source
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # One snapshot for all the rules: a concurrent writer cannot fake a break.
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return _run(conn)
    finally:
        if owned:
            engine.dispose()


def _run(conn: sa.Connection) -> list[Violation]:
    present = set(sa.inspect(conn).get_table_names())
    missing = [
        table.name for table in TABLES if table.name not in present | ADDED_TABLES
    ]
    if missing:
        raise MissingTablesError(missing)
    return sorted(violation for rule in RULES for violation in rule(conn))
