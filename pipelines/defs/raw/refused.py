"""What the extraction refused or had to change, as rule breaks for the raw checks.

- `null_keys`: rows refused because a primary key column is NULL (`meta._rejected_rows`,
  see `pipelines.extract.guard`), while no complete key listing has shown them gone:
  named by the row's content (it has no key), for the `keys_not_null` check.
- `inexact_decimals`: decimal values that broke their column's type (`meta._rejected_values`
  with an `exact` rule): named while raw still holds, for that row, what the extraction
  stored for that source text (the value rounded half-even, or NULL), for the
  `exact_decimals` check. A value fixed in the source since, or a row deleted since, is
  no longer named; the record of what was seen stays.

- `invalid_text`: text values that were not UTF-8 (`meta._rejected_values`, rule
  `invalid_utf8`, see `pipelines.extract.guard`), named while raw's row still holds NULL
  there, for the `valid_text` check.

Each break is a tuple (table, key, rule, detail, column); `quality` makes them
`Violation`s.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import sqlalchemy as sa

from pipelines.extract import exact
from pipelines.extract.guard import INVALID_UTF8_RULE, REJECTED_ROWS
from pipelines.extract.plan import quote
from pipelines.extract.rejects import REJECTED_VALUES
from pipelines.extract.warehouse import META

Break = tuple[str, object, str, str, str]


def bookkeeping(conn: sa.Connection) -> set[str]:
    """The extraction's bookkeeping tables present (schema `meta`, `warehouse.META`)."""
    rows = conn.exec_driver_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", (META,)
    )
    return {r[0] for r in rows}


def null_keys(conn: sa.Connection, tables: set[str]) -> Iterable[Break]:
    if REJECTED_ROWS not in bookkeeping(conn):
        return
    rows = conn.exec_driver_sql(
        f"SELECT DISTINCT table_name, row_json, rule FROM meta.{quote(REJECTED_ROWS)} "
        "WHERE resolved_at IS NULL ORDER BY ALL"
    )
    for table, row, rule in rows:
        yield (
            table,
            row,
            rule,
            f"a primary key column is NULL: the row is not in raw.{table}, it is kept "
            f"whole in meta.{REJECTED_ROWS}",
            "",
        )


def _still_stored(raw_value: str, rule: str, current: Decimal | None) -> bool:
    """Whether raw's `current` value is what the extraction stored for `raw_value`."""
    if rule != exact.EXCESS_SCALE:
        return current is None
    if current is None:
        return False
    quantum = Decimal(1).scaleb(current.as_tuple().exponent)
    try:
        stored = Decimal(raw_value.strip()).quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
    except decimal.InvalidOperation:
        return False
    return stored == current


def _recorded_columns(
    conn: sa.Connection, tables: set[str], keys: Mapping[str, Sequence[str]], condition: str
) -> Iterable[tuple[str, str, str]]:
    """(table, column, SQL of raw's row key as recorded) of the keyed raw tables' columns
    with values recorded in `meta._rejected_values` under `condition` (a rule filter)."""
    if REJECTED_VALUES not in bookkeeping(conn):
        return
    found = conn.exec_driver_sql(
        f"SELECT DISTINCT table_name, column_name FROM meta.{quote(REJECTED_VALUES)} "
        f"WHERE {condition} ORDER BY ALL"
    ).fetchall()
    for table, column in found:
        pk = keys.get(table)
        if table in tables and pk:
            parts = ", ".join(f"CAST(r.{quote(k)} AS VARCHAR)" for k in pk)
            yield table, column, f"concat_ws('|', {parts})"


def inexact_decimals(
    conn: sa.Connection, tables: set[str], keys: Mapping[str, Sequence[str]]
) -> Iterable[Break]:
    """Recorded decimal values still as stored in raw; `keys`: {table: key columns}."""
    rules = ", ".join(f"'{r}'" for r in exact.RULES)
    for table, column, row_key in _recorded_columns(conn, tables, keys, f"rule IN ({rules})"):
        rows = conn.exec_driver_sql(
            f"SELECT DISTINCT v.row_key, v.raw_value, v.rule, r.{quote(column)} "
            f"FROM meta.{quote(REJECTED_VALUES)} v JOIN raw.{quote(table)} r "
            f"ON v.row_key = {row_key} "
            f"WHERE v.table_name = ? AND v.column_name = ? AND v.rule IN ({rules}) ORDER BY 1, 2",
            (table, column),
        )
        for key, raw_value, rule, current in rows:
            if _still_stored(raw_value, rule, current):
                held = "NULL" if current is None else f"{current} (rounded half-even)"
                yield (
                    table,
                    key,
                    rule,
                    f"{column}: the source holds {raw_value}, raw {held}; the source text "
                    f"is in meta.{REJECTED_VALUES}",
                    column,
                )


def invalid_text(
    conn: sa.Connection, tables: set[str], keys: Mapping[str, Sequence[str]]
) -> Iterable[Break]:
    """Recorded text values that were not UTF-8, while raw's row holds NULL there."""
    condition = f"rule = '{INVALID_UTF8_RULE}'"
    for table, column, row_key in _recorded_columns(conn, tables, keys, condition):
        rows = conn.exec_driver_sql(
            f"SELECT DISTINCT v.row_key, v.raw_value FROM meta.{quote(REJECTED_VALUES)} v "
            f"JOIN raw.{quote(table)} r ON v.row_key = {row_key} "
            f"WHERE v.table_name = ? AND v.column_name = ? AND v.rule = ? "
            f"AND r.{quote(column)} IS NULL ORDER BY 1, 2",
            (table, column, INVALID_UTF8_RULE),
        )
        for key, raw_value in rows:
            yield (
                table,
                key,
                INVALID_UTF8_RULE,
                f"{column}: the source holds bytes that are not UTF-8 ({raw_value!r}); NULL "
                f"in raw, the text in meta.{REJECTED_VALUES}",
                column,
            )
