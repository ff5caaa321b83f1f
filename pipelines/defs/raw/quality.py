"""Data-quality checks on `raw`: the source's business rules, row by row, after each load.

Bad rows are never filtered: they stay in raw and flow on to the marts (which count them
as the source says). These checks make them visible instead: each failed check lists the
offending rows as (table, key, rule, detail), capped at `SHOWN` with the total count.

The rules are the source contract's (`models.rules.RULES`: the same portable SQLAlchemy
queries that judge a source, run here on DuckDB's `raw` schema through `duckdb_engine`),
plus rules that only make sense on a copy: money that is NULL or negative, quantities
that are negative, primary keys that repeat, `created_at` / `updated_at` a little later
than the check (a skewed clock: a warning), dates that cannot be true (before the row's
website was created, or more than a day after the check: an error), timestamp or date
text that did not parse and text that is not UTF-8 (kept as NULL in raw, its text in
`meta._rejected_values`: see `pipelines.extract.rejects` and `guard`), decimal values that
broke their column's type (rounded half-even or NULL in raw, the source text in
`meta._rejected_values`: see `pipelines.extract.exact`), rows refused for a NULL in their
primary key (kept whole in `meta._rejected_rows`: see `pipelines.extract.guard`; see
`refused`). The last three apply to any extracted table, in the contract or not. Rules
are grouped into one check per table and property (`order_total_formula` on
`raw/orders_order`, …).

Pure rule code (`find_violations`) is separate from the Dagster check so tests and
notebooks can call it on any warehouse file.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa

from models.rules import RULES as SOURCE_RULES
from pipelines.defs.raw import refused
from pipelines.defs.raw.assets import asset_key
from pipelines.defs.resources import Warehouse
from pipelines.duck import NO_EXTENSIONS, WORK_MEMORY_LIMIT
from pipelines.extract import TablePlan, exact
from pipelines.extract.guard import INVALID_UTF8_RULE, NULL_KEY_RULE, REJECTED_ROWS
from pipelines.extract.plan import DECIMAL, INTEGER, TEXT, quote
from pipelines.extract.rejects import DATE_RULE, REJECTED_VALUES, TIMESTAMP_RULE

#: Offending rows listed in a check's metadata; the total is always given.
SHOWN = 50
#: A clock difference this large is tolerated before a timestamp counts as "future".
CLOCK_SKEW = dt.timedelta(minutes=5)
#: Past this, a timestamp is no skewed clock but an implausible date (issue 15): an error.
IMPLAUSIBLY_AHEAD = dt.timedelta(days=1)

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


@dataclass(frozen=True)
class Rule:
    """A check: its name, what it promises, its severity, the violation rules it groups."""

    check: str
    description: str
    severity: dg.AssetCheckSeverity
    rules: tuple[str, ...]


#: Every check, by name. `rules` are `Violation.rule` values (models.rules' and ours).
CHECKS: dict[str, Rule] = {
    r.check: r
    for r in (
        Rule(
            "accepted_values",
            "choice columns hold only their documented values",
            ERROR,
            ("choice",),
        ),
        Rule(
            "foreign_keys_resolve",
            "every foreign key points at a row of its parent",
            ERROR,
            ("orphan",),
        ),
        Rule("unique_columns", "columns declared unique repeat no value", ERROR, ("unique",)),
        Rule(
            "unique_primary_key",
            "the primary key repeats no value",
            ERROR,
            ("duplicate_primary_key",),
        ),
        Rule(
            "money_not_null_or_negative",
            "money columns are neither NULL nor negative",
            ERROR,
            ("null_money", "negative_money"),
        ),
        Rule(
            "quantities_not_negative",
            "counts and quantities (items, guests, points, distances) are not negative",
            ERROR,
            ("negative_quantity",),
        ),
        Rule(
            "no_future_timestamps",
            "created_at / updated_at are not after the check (up to a day ahead: a "
            "skewed clock; further is an implausible date)",
            WARN,
            ("future_timestamp",),
        ),
        Rule(
            "plausible_dates",
            "no date is before its website was created or more than a day after the "
            "check (such a row is kept and named; the daily marts start at the website's "
            "creation, not at the bad row)",
            ERROR,
            ("before_website_created", "after_tomorrow"),
        ),
        Rule(
            "parsable_timestamps",
            "timestamp and date values parse (one that does not is NULL in raw, its "
            "source text in meta._rejected_values)",
            ERROR,
            (TIMESTAMP_RULE, DATE_RULE),
        ),
        Rule(
            "exact_decimals",
            "decimal values fit their column's precision and scale (one with more "
            "fractional digits is rounded half-even in raw, one that does not fit or parse "
            "is NULL; the source text is in meta._rejected_values)",
            ERROR,
            exact.RULES,
        ),
        Rule(
            "valid_text",
            "text values are UTF-8 (one that is not is NULL in raw, its bytes as text in "
            "meta._rejected_values)",
            ERROR,
            (INVALID_UTF8_RULE,),
        ),
        Rule(
            "keys_not_null",
            "no source row has a NULL in its primary key (such a row is refused: not in "
            f"raw, kept whole in meta.{REJECTED_ROWS})",
            ERROR,
            (NULL_KEY_RULE,),
        ),
        Rule(
            "order_total_formula",
            "total = subtotal − discount_amount + delivery_fee, and "
            "subtotal = Σ its items' line_total",
            ERROR,
            ("order_total", "order_subtotal"),
        ),
        Rule(
            "ledger_balances",
            "points_balance = Σ ledger points, lifetime_points = Σ "
            "earned points, tier follows lifetime points",
            ERROR,
            ("points_balance", "lifetime_points", "loyalty_tier"),
        ),
        Rule(
            "redeem_entries",
            "a redeem entry carries its redemption and −points_spent",
            ERROR,
            ("redeem_redemption", "redeem_points"),
        ),
        Rule(
            "completed_payment_has_time",
            "a completed payment has completed_at",
            WARN,
            ("completed_at",),
        ),
        Rule(
            "events_in_order",
            "a row's events happen in order where present: confirmed_at ≤ prepared_at ≤ "
            "delivered_at, sent_at ≤ opened_at ≤ clicked_at",
            WARN,
            ("event_order",),
        ),
        Rule(
            "refunds_within_payment",
            "a payment's refunds never exceed its amount",
            ERROR,
            ("refund_exceeds_payment",),
        ),
    )
}
_CHECK_OF_RULE = {rule: c.check for c in CHECKS.values() for rule in c.rules}


@dataclass(frozen=True, order=True)
class Violation:
    table: str
    key: int | str
    rule: str
    detail: str
    #: The offending column, where the rule is about one value.
    column: str = ""

    @property
    def check(self) -> str:
        return _CHECK_OF_RULE.get(self.rule, self.rule)


def checks_for(table: sa.Table) -> list[str]:
    """The checks that apply to a contract table (the rules that can name its rows)."""
    names = ["unique_primary_key"]
    if any(c.info.get("choices") for c in table.columns):
        names.append("accepted_values")
    if any(c.foreign_keys for c in table.columns):
        names.append("foreign_keys_resolve")
    if any(c.unique for c in table.columns):
        names.append("unique_columns")
    if _money_columns(table):
        names.append("money_not_null_or_negative")
    if _quantity_columns(table):
        names.append("quantities_not_negative")
    if _event_columns(table):
        names.append("no_future_timestamps")
    if _dated_columns(table) and _website_path(table) is not None:
        names.append("plausible_dates")
    if _parsed_columns(table):
        names.append("parsable_timestamps")
    names += {
        "orders_order": ["order_total_formula", "events_in_order"],
        "campaigns_campaignrecipient": ["events_in_order"],
        "loyalty_loyaltyaccount": ["ledger_balances"],
        "loyalty_loyaltytransaction": ["redeem_entries"],
        "payments_payment": ["completed_payment_has_time", "refunds_within_payment"],
    }.get(table.name, [])
    return names


def _money_columns(table: sa.Table) -> list[sa.Column]:
    """Amounts that must be present and not negative (not rates, not distances)."""
    names = {
        "total",
        "subtotal",
        "amount",
        "discount_amount",
        "delivery_fee",
        "line_total",
        "unit_price",
        "price",
        "fee",
        "value_amount",
        "bonus_amount",
        "contract_value",
        "budget",
    }
    return [c for c in table.columns if c.name in names and isinstance(c.type, sa.Numeric)]


def _quantity_columns(table: sa.Table) -> list[sa.Column]:
    """Counts and measures that cannot be negative (signed ledger points and balances can)."""
    names = {
        "quantity",
        "guests",
        "meals_per_week",
        "points_required",
        "points_spent",
        "loyalty_points_used",
        "daily_calorie_target",
        "distance_km",
        "discount_value",
        "discount_percent",
    }
    return [c for c in table.columns if c.name in names]


#: Dates of a plan, not of an event: they may lie ahead (a booking's event, a period's
#: end), so only "before the website existed" judges them.
_PLANNED = {"start_date", "end_date", "scheduled_at", "event_date", "current_period_end",
            "expires_at"}  # fmt: skip


#: Rows that may predate their website: a corporate contract is signed with a company, not
#: through the website, and can be agreed before it opens (the demo's are).
_SIGNED_OFFLINE = {"corporate_contract"}


def _dated_columns(table: sa.Table) -> list[sa.Column]:
    """Every timestamp and date of a row, except the website's own."""
    if table.name == "accounts_website":
        return []
    return _parsed_columns(table)


def _website_path(table: sa.Table) -> list[tuple[str, str]] | None:
    """The joins from a row to its website: [(foreign key column, parent table), ...],
    ending at accounts_website, through required foreign keys (a row without website_id
    belongs to its order's, account's, user's… website). None: no such path."""
    from models import metadata

    seen = {table.name}
    paths: list[tuple[sa.Table, list[tuple[str, str]]]] = [(table, [])]
    while paths:
        current, path = paths.pop(0)
        for column in current.columns:
            if column.nullable or not column.foreign_keys:
                continue
            parent = next(iter(column.foreign_keys)).column.table.name
            step = [*path, (column.name, parent)]
            if parent == "accounts_website":
                return step
            if parent not in seen:
                seen.add(parent)
                paths.append((metadata.tables[parent], step))
    return None


def _event_columns(table: sa.Table) -> list[sa.Column]:
    # Only the record's own timestamps: scheduled and planned dates may be ahead.
    return [c for c in table.columns if c.name in ("created_at", "updated_at")]


def _parsed_columns(table: sa.Table) -> list[sa.Column]:
    """Columns whose source text the warehouse parses (SQLite stores them as text)."""
    return [c for c in table.columns if isinstance(c.type, (sa.DateTime, sa.Date))]


def _raw_tables(conn: sa.Connection) -> set[str]:
    rows = conn.exec_driver_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
    )
    return {r[0] for r in rows}


def _raw_columns(conn: sa.Connection) -> dict[str, set[str]]:
    """raw's columns per table: a source at an older version of the contract lacks some."""
    rows = conn.exec_driver_sql(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'raw'"
    )
    found: dict[str, set[str]] = defaultdict(set)
    for table, column in rows:
        found[table].add(column)
    return found


def _copy_rules(conn: sa.Connection, tables: set[str], now: dt.datetime) -> Iterable[Violation]:
    from models import TABLES

    present = _raw_columns(conn)
    for table in TABLES:
        if table.name not in tables:
            continue
        has = present[table.name]
        raw = f"raw.{quote(table.name)}"
        pk = [c.name for c in table.primary_key]
        if pk:
            cols = ", ".join(quote(c) for c in pk)
            dup = conn.exec_driver_sql(
                f"SELECT concat_ws('|', {cols}), count(*) FROM {raw} "
                f"GROUP BY {cols} HAVING count(*) > 1 ORDER BY 1"
            )
            for key, n in dup:
                yield Violation(
                    table.name,
                    _key(key),
                    "duplicate_primary_key",
                    f"{'|'.join(pk)}={key} appears {n} times",
                )
        for col in (c for c in _money_columns(table) if c.name in has):
            q = quote(col.name)
            # A nullable amount (a campaign's budget) may be absent, never negative.
            missing = "" if col.nullable else f"{q} IS NULL OR "
            rows = conn.exec_driver_sql(
                f"SELECT id, {q} FROM {raw} WHERE {missing}{q} < 0 ORDER BY id"
            )
            for key, value in rows:
                rule = "null_money" if value is None else "negative_money"
                yield Violation(table.name, key, rule, f"{col.name}={value}", col.name)
        for col in (c for c in _quantity_columns(table) if c.name in has):
            q = quote(col.name)
            rows = conn.exec_driver_sql(f"SELECT id, {q} FROM {raw} WHERE {q} < 0 ORDER BY id")
            for key, value in rows:
                yield Violation(
                    table.name, key, "negative_quantity", f"{col.name}={value}", col.name
                )
        for col in (c for c in _event_columns(table) if c.name in has):
            q = quote(col.name)
            rows = conn.exec_driver_sql(
                f"SELECT id, {q} FROM {raw} WHERE {q} > ? AND {q} <= ? ORDER BY id",
                (now + CLOCK_SKEW, now + IMPLAUSIBLY_AHEAD),
            )
            for key, value in rows:
                yield Violation(
                    table.name,
                    key,
                    "future_timestamp",
                    f"{col.name}={value} is after the check ({now:%Y-%m-%d %H:%M}Z)",
                )
        yield from _implausible_dates(conn, table, has, tables, now)


def _implausible_dates(
    conn: sa.Connection, table: sa.Table, has: set[str], tables: set[str], now: dt.datetime
) -> Iterable[Violation]:
    """Dates that cannot be true, per row and column: before the row's website was created
    (a zeroed clock's 1970-01-01), or more than a day after the check. One query per table:
    the offending rows come back with each date and the website's creation."""
    path = _website_path(table)
    columns = [c for c in _dated_columns(table) if c.name in has]
    if path is None or not columns or "id" not in has:
        return
    if any(parent not in tables for _, parent in path):
        return
    joins, alias = [], "r"
    for n, (fk, parent) in enumerate(path):
        joins.append(f"JOIN raw.{quote(parent)} p{n} ON {alias}.{quote(fk)} = p{n}.id")
        alias = f"p{n}"
    created = f"{alias}.created_at"
    ahead = now + IMPLAUSIBLY_AHEAD

    def early(col: sa.Column) -> str:
        q = f"r.{quote(col.name)}"
        if table.name in _SIGNED_OFFLINE:
            return "FALSE"
        if isinstance(col.type, sa.DateTime):
            return f"{q} < {created}"
        return f"{q} < CAST({created} AS DATE)"

    def late(col: sa.Column) -> str:
        return "FALSE" if col.name in _PLANNED else f"r.{quote(col.name)} > ?"

    conditions = " OR ".join(f"{early(c)} OR {late(c)}" for c in columns)
    selected = ", ".join(f"{early(c)}, r.{quote(c.name)}" for c in columns)
    # The SELECT's `early` flags carry no parameters; each unplanned column's `late` one.
    rows = conn.exec_driver_sql(
        f"SELECT r.id, {created}, {selected} FROM raw.{quote(table.name)} r "
        f"{' '.join(joins)} WHERE {conditions} ORDER BY r.id",
        tuple(ahead for c in columns if c.name not in _PLANNED),
    )
    for key, website_created, *values in rows:
        for col, is_early, value in zip(columns, values[0::2], values[1::2], strict=True):
            if value is None:
                continue
            if is_early:
                yield Violation(
                    table.name,
                    key,
                    "before_website_created",
                    f"{col.name}={value} is before its website was created ({website_created})",
                    col.name,
                )
            elif col.name not in _PLANNED and _later_than(value, ahead):
                yield Violation(
                    table.name,
                    key,
                    "after_tomorrow",
                    f"{col.name}={value} is more than a day after the check "
                    f"({now:%Y-%m-%d %H:%M}Z)",
                    col.name,
                )


def _later_than(value: dt.datetime | dt.date, instant: dt.datetime) -> bool:
    if isinstance(value, dt.datetime):
        return value > instant
    return value > instant.date()


def _rejected(conn: sa.Connection, tables: set[str]) -> Iterable[Violation]:
    """Values the extraction could not parse, whose row is in raw with the column still
    NULL (a value fixed in the source since, or a row deleted since, is no longer named)."""
    from models import TABLES

    if REJECTED_VALUES not in refused.bookkeeping(conn):
        return
    present = _raw_columns(conn)
    for table in TABLES:
        if table.name not in tables:
            continue
        pk = [c.name for c in table.primary_key]
        names = {c.name for c in _parsed_columns(table)} & present[table.name]
        if not pk or not names:
            continue
        row_key = "concat_ws('|', " + ", ".join(f"CAST(r.{quote(k)} AS VARCHAR)" for k in pk) + ")"
        for column in sorted(names):
            rows = conn.exec_driver_sql(
                f"SELECT DISTINCT v.row_key, v.raw_value, v.rule "
                f"FROM meta.{quote(REJECTED_VALUES)} v JOIN raw.{quote(table.name)} r "
                f"ON v.row_key = {row_key} "
                f"WHERE v.table_name = ? AND v.column_name = ? AND r.{quote(column)} IS NULL "
                "ORDER BY 1, 2",
                (table.name, column),
            )
            for key, value, rule in rows:
                yield Violation(
                    table.name,
                    _key(key),
                    rule,
                    f"{column}={value!r} does not parse: NULL in raw, text in "
                    f"meta.{REJECTED_VALUES}",
                    column,
                )


def _key(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


def plan_checks(plan: TablePlan) -> list[str]:
    """The checks of an extracted table beyond the contract's rules: its decimals exact,
    its key never NULL (a key SQLite lets hold NULL: text, composite, not the rowid)."""
    names = []
    if any(c.kind == DECIMAL for c in plan.columns):
        names.append("exact_decimals")
    if any(c.kind == TEXT for c in plan.columns):
        names.append("valid_text")
    pk = plan.primary_key
    if pk and not (len(pk) == 1 and plan.column(pk[0]).kind == INTEGER):
        names.append("keys_not_null")
    return names


def find_violations(
    warehouse: str,
    now: dt.datetime | None = None,
    keys: dict[str, tuple[str, ...]] | None = None,
) -> list[Violation]:
    """Every break of a rule in `raw` of the DuckDB file `warehouse`, sorted. `keys`:
    {table: key columns} of tables outside the contract (its tables' are known)."""
    from models import TABLES

    now = now or dt.datetime.now(dt.UTC)
    keys = {t.name: tuple(c.name for c in t.primary_key) for t in TABLES} | (keys or {})
    engine = sa.create_engine(
        f"duckdb:///{warehouse}",
        connect_args={"read_only": True,
                      "config": {**NO_EXTENSIONS, "memory_limit": WORK_MEMORY_LIMIT}},
    )
    found: list[Violation] = []
    try:
        with engine.connect() as conn:
            tables = _raw_tables(conn)
            found += _copy_rules(conn, tables, now)
            found += _rejected(conn, tables)
            found += [Violation(*b) for b in refused.null_keys(conn, tables)]
            found += [
                Violation(t, _key(k), r, d, c)
                for t, k, r, d, c in refused.inexact_decimals(conn, tables, keys)
            ]
            found += [
                Violation(t, _key(k), r, d, c)
                for t, k, r, d, c in refused.invalid_text(conn, tables, keys)
            ]
            # The source's rules name tables unqualified: resolve them in raw.
            conn.exec_driver_sql("USE raw")
            for rule in SOURCE_RULES:
                try:
                    found += [Violation(v.table, v.key, v.rule, v.detail) for v in rule(conn)]
                except sa.exc.DBAPIError:
                    # A table the rule needs is not extracted (excluded): nothing to judge.
                    conn.rollback()
                    conn.exec_driver_sql("USE raw")
    finally:
        engine.dispose()
    return sorted(set(found), key=_order)


def _order(v: Violation) -> tuple:
    """Table, then key (integers in order, before text: a refused row is named by its
    content), rule, detail, column."""
    key = (0, v.key, "") if isinstance(v.key, int) else (1, 0, str(v.key))
    return (v.table, key, v.rule, v.detail, v.column)


def _result(table: str, check: str, violations: list[Violation]) -> dg.AssetCheckResult:
    rule = CHECKS[check]
    shown = violations[:SHOWN]
    return dg.AssetCheckResult(
        asset_key=asset_key(table),
        check_name=check,
        passed=not violations,
        severity=rule.severity,
        metadata={
            "violations": len(violations),
            "rules": ", ".join(rule.rules),
            "offending_rows": dg.MetadataValue.md(
                "| table | key | rule | detail |\n|---|---|---|---|\n"
                + "".join(
                    f"| {v.table} | {v.key} | {v.rule} | {v.detail.replace('|', '/')} |\n"
                    for v in shown
                )
            )
            if shown
            else dg.MetadataValue.text("none"),
            "offending_keys": dg.MetadataValue.json(
                [
                    {"table": v.table, "key": v.key, "rule": v.rule}
                    | ({"column": v.column} if v.column else {})
                    for v in shown
                ]
            ),
        },
    )


def build_quality_checks(plans: Iterable[TablePlan]) -> list[dg.AssetChecksDefinition]:
    """The data-quality checks for the raw assets of `plans` that the contract describes."""
    from models import metadata

    specs = []
    plans = list(plans)
    keys = {p.name: p.primary_key for p in plans}
    for plan in plans:
        table = metadata.tables.get(plan.name)
        checks = checks_for(table) if table is not None else []
        for check in checks + [c for c in plan_checks(plan) if c not in checks]:
            rule = CHECKS[check]
            specs.append(
                dg.AssetCheckSpec(
                    check,
                    asset=asset_key(plan.name),
                    description=f"raw.{plan.name}: {rule.description} (severity "
                    f"{rule.severity.value}; offending rows listed, never dropped).",
                )
            )
    if not specs:
        return []

    @dg.multi_asset_check(specs=specs, can_subset=True, name="raw_quality")
    def raw_quality(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        """The source's business rules on raw: each offending row named (table, key, rule)."""
        by_check: dict[tuple[str, str], list[Violation]] = defaultdict(list)
        for v in find_violations(warehouse.path, keys=keys):
            by_check[(v.table, v.check)].append(v)
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.to_user_string()):
            table = key.asset_key.path[-1]
            violations = by_check.get((table, key.name), [])
            if violations:
                context.log.warning(
                    f"raw.{table} {key.name}: {len(violations)} rows break it, e.g. "
                    + "; ".join(
                        f"key {v.key}: {v.column + ': ' if v.column else ''}{v.rule}: {v.detail}"
                        for v in violations[:3]
                    )
                )
            yield _result(table, key.name, violations)

    return [raw_quality]
