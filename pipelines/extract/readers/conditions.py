"""The WHERE clauses of the readers, as SQLAlchemy expressions with bound parameters.

The cursor (`updated_at >= :since`, `id > :after`), a set of primary keys
(`pk IN (:keys)`, an expanding parameter) and half-open key ranges; never a value formatted
into SQL text. Every reader compiles them for its own driver.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from pipelines.extract.plan import TablePlan
from pipelines.extract.xmin import XidRange, xmin_condition


def key_range_condition(plan: TablePlan, ranges: list[tuple[int, int]] | None, table: sa.Table):
    """`key >= :low AND key < :high OR …` for half-open `ranges` (None: every key)."""
    if ranges is None:
        return None
    (pk,) = plan.primary_key
    col = table.c[pk]
    return sa.or_(
        *[
            sa.and_(col >= sa.literal(lo, sa.BigInteger), col < sa.literal(hi, sa.BigInteger))
            for lo, hi in ranges
        ]
    )


def row_condition(
    plan: TablePlan, since: object | None, keys: list | None, table: sa.Table, ranges=None
):
    """The cursor condition, `pk IN (:keys)` (an expanding bound parameter), or the
    half-open integer key `ranges` (content reconciliation's differing buckets). A
    composite key's `keys` are tuples: `(a, b) IN ((:a1, :b1), …)` (SQLAlchemy's `tuple_`)."""
    if ranges is not None:
        return key_range_condition(plan, ranges, table)
    if keys is None:
        return cursor_condition(plan, since, table)
    if len(plan.primary_key) > 1:
        columns = sa.tuple_(*[table.c[k] for k in plan.primary_key])
        return columns.in_(sa.bindparam("keys", [tuple(k) for k in keys], expanding=True))
    (pk,) = plan.primary_key
    return table.c[pk].in_(sa.bindparam("keys", list(keys), expanding=True))


def cursor_condition(plan: TablePlan, since: object | None, table: sa.Table):
    """The cursor as a SQLAlchemy expression with a bound parameter (None: read all).

    Merge tables read `updated_at >= since` (the caller has already subtracted the
    lookback; `>=` because a re-read unchanged row is harmless and a missed one is not);
    append tables read `id > since`. On PostgreSQL's xmin cursor, `since` is the range of
    transaction ids to read (`xmin.XidRange`), whatever the table's cursor.
    """
    if isinstance(since, XidRange):
        return xmin_condition(since)
    if since is None or plan.cursor is None:
        return None
    col = table.c[plan.cursor]
    if plan.mode == "append":
        return col > sa.bindparam("after", int(since), type_=col.type)
    since = utc(since)
    if plan.dialect == "sqlite":
        # Django writes ISO text with or without 'T', fraction and offset, so text order is
        # not time order; julianday() parses every form (and applies the offset). The
        # day-earlier prefix compare keeps the index usable: each form starts YYYY-MM-DD.
        day = (since - dt.timedelta(days=1)).strftime("%Y-%m-%d")
        wm = since.strftime("%Y-%m-%d %H:%M:%S.%f")
        return sa.and_(
            col >= sa.bindparam("since_day", day, type_=sa.String),
            sa.func.julianday(col) >= sa.func.julianday(sa.bindparam("since", wm, type_=sa.String)),
        )
    return col >= sa.bindparam("since", since, type_=sa.DateTime(timezone=True))


def utc(value: object) -> dt.datetime:
    """A watermark timestamp in UTC (a naive one is UTC already)."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"a timestamp watermark is needed, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def fingerprint_terms(plan: TablePlan):
    """(key column, [count, sum(key), sum((key & 0xFFFF)²)]) — as `reconcile.fingerprint`."""
    (pk,) = plan.primary_key
    col = plan.table.c[pk]
    # BIGINT arithmetic (PostgreSQL would overflow an INTEGER square); the sums come back
    # as BIGINT (PostgreSQL's sum of a BIGINT is NUMERIC).
    key = col if plan.dialect == "sqlite" else sa.cast(col, sa.BigInteger)
    low = key.op("&")(sa.literal(0xFFFF, sa.BigInteger))
    terms = [
        sa.func.count(),
        sa.cast(sa.func.coalesce(sa.func.sum(key), 0), sa.BigInteger),
        sa.cast(sa.func.coalesce(sa.func.sum(low * low), 0), sa.BigInteger),
    ]
    return col, terms
