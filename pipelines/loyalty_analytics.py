"""Request 003's `calculate` (LoyaltyAnalytics for a date window), read from the warehouse.

The figures are computed by dbt (METRICS.md, Loyalty) and exposed as the DuckDB table
macro `marts.loyalty_calculate(date_from, date_to, website := null)`; this module only
calls it, read-only, and shapes the answer as request 003's JSON:

- one object per website with loyalty activity (only the asked website with `website`);
- fields in request 003's order; counts and points are JSON integers, the two ratios
  (`active_redemptions_ratio`, `average_points_per_client`) JSON numbers with exactly
  2 decimals (exact DECIMALs, never floats), NULL when their denominator is 0;
- request 003's `id` (the primary key of a stored analytics record) is omitted: the
  warehouse computes the answer, it stores no record to point at.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipelines.errors import LoyaltyAnalyticsError  # noqa: F401 (re-exported)

FIELDS = (
    "website",
    "date_from",
    "date_to",
    "total_active_clients",
    "total_points_issued",
    "total_points_redeemed",
    "total_points_balance",
    "total_redemptions",
    "total_redemption_value",
    "most_popular_item",
    "most_popular_item_name",
    "bronze_count",
    "silver_count",
    "gold_count",
    "platinum_count",
    "active_redemptions_ratio",
    "average_points_per_client",
)


def calculate(
    warehouse_path: str | Path,
    date_from: dt.date,
    date_to: dt.date,
    website: int | None = None,
) -> list[dict[str, Any]]:
    """Request 003's `calculate` for [date_from, date_to]: one dict per website.

    Dates are ISO strings, ratios `Decimal` with 2 places (or None), the rest ints (or
    None for `most_popular_item` without redemptions).
    """
    import duckdb

    from pipelines import duck

    if date_from > date_to:
        raise LoyaltyAnalyticsError(f"date_from {date_from} is after date_to {date_to}")
    path = Path(warehouse_path)
    if not path.is_file():
        raise LoyaltyAnalyticsError(
            f"no warehouse at {path}: run `mealytics run` (extract + dbt build) first"
        )
    try:
        con = duck.connect(path, read_only=True)
    except duckdb.Error as exc:
        raise LoyaltyAnalyticsError(f"cannot open the warehouse {path}: {exc}") from None
    try:
        present = con.execute(
            "select count(*) from duckdb_functions() "
            "where schema_name = 'marts' and function_name = 'loyalty_calculate'"
        ).fetchone()[0]
        if not present:
            raise LoyaltyAnalyticsError(
                f"the warehouse {path} has no marts.loyalty_calculate: run dbt build first"
            )
        return calculate_on(con, date_from, date_to, website)
    except duckdb.Error as exc:
        raise LoyaltyAnalyticsError(f"marts.loyalty_calculate failed: {exc}") from None
    finally:
        con.close()


def calculate_on(con, date_from: dt.date, date_to: dt.date, website: int | None = None):
    """`calculate` on an open connection to a warehouse or a published catalog (the API's)."""
    cursor = con.execute(
        "select * from marts.loyalty_calculate(?, ?, website := ?) order by website",
        [date_from, date_to, website],
    )
    names = [column[0] for column in cursor.description]
    return [_shape(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {}
    for name in FIELDS:
        value = row[name]
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, Decimal) and name not in (
            "active_redemptions_ratio",
            "average_points_per_client",
        ):
            value = int(value)
        elif isinstance(value, Decimal):
            value = value.quantize(Decimal("0.01"))
        shaped[name] = value
    return shaped


def to_json(value: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON text in which a `Decimal` is written as the number it is (36.00 stays 36.00)."""
    pad, inner = " " * indent * _level, " " * indent * (_level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (
            f"{inner}{json.dumps(str(k))}: {to_json(v, indent, _level + 1)}"
            for k, v in value.items()
        )
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = (f"{inner}{to_json(v, indent, _level + 1)}" for v in value)
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False)
