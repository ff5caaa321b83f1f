"""The source read by its plain driver, raw read by DuckDB, compared row by row.

Independent of the extractor: the source is read with sqlite3 / psycopg and each value is
typed by the contract with Python's own parsers (money: the shortest decimal that
round-trips the stored number, at the contract's scale; timestamps: UTC instants; SQLite's
0/1 booleans and ISO dates). Raw is read with DuckDB's Python client, in UTC.

Money in raw is taken as it is, not rounded: a raw value with float noise
(272731.2800000001) differs from the source's 272731.28. `money="cents"` rounds raw's
money to the contract's scale too, for comparisons about which rows and versions arrived
rather than how exactly their money did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import sqlalchemy as sa

from models.schema import metadata

UTC = dt.UTC

Row = tuple[Any, ...]


def _scale(kind: sa.Numeric) -> Decimal:
    return Decimal(1).scaleb(-(kind.scale or 0))


def _money(kind: sa.Numeric, value: Any) -> Decimal:
    """A stored number as the contract's decimal: a float by its shortest repr."""
    if isinstance(value, float):
        value = repr(value)
    return Decimal(value).quantize(_scale(kind))


def source_value(column: sa.Column, value: Any) -> Any:
    """A value as the source driver returns it, typed by the contract."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return bool(value)
    if isinstance(kind, sa.DateTime):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:  # Django's SQLite text: UTC without an offset
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(kind, sa.Date):
        return dt.date.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return _money(kind, value)
    if isinstance(kind, sa.Integer):
        return int(value)
    return value


def raw_value(column: sa.Column, value: Any, *, money: str = "exact") -> Any:
    """A value as DuckDB returns it from raw: timestamps to UTC, money as it is (a value
    that is exact at the contract's scale is shown at that scale)."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, sa.DateTime) and isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        if money == "cents":
            return _money(kind, value)
        if isinstance(value, Decimal) and value == value.quantize(_scale(kind)):
            return value.quantize(_scale(kind))
    return value


def row_hash(row: Row) -> str:
    return hashlib.sha256(repr(row).encode()).hexdigest()


@dataclass(frozen=True)
class Table:
    """A table's rows, typed: `columns` in the source's order, the key first."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    def by_key(self) -> dict[Any, list[Row]]:
        out: dict[Any, list[Row]] = {}
        for row in self.rows:
            out.setdefault(row[0], []).append(row)
        return out


def source_columns(con, table: str) -> tuple[str, ...]:
    """The columns the source table has, `id` first (every contract table's key)."""
    cursor = con.cursor()
    cursor.execute(f'SELECT * FROM "{table}" WHERE 1 = 0')
    names = [d[0] for d in cursor.description]
    cursor.close()
    contract = metadata.tables[table]
    unknown = [n for n in names if n not in contract.c]
    if unknown:
        raise AssertionError(f"{table}: columns outside the contract: {unknown}")
    return ("id", *[n for n in names if n != "id"])


def read_source(con, table: str) -> Table:
    """`table` of the source through its plain driver (sqlite3 / psycopg)."""
    columns = source_columns(con, table)
    contract = metadata.tables[table]
    cursor = con.cursor()
    cursor.execute(f'SELECT {", ".join(columns)} FROM "{table}"')
    rows = tuple(
        tuple(source_value(contract.c[n], v) for n, v in zip(columns, r, strict=True))
        for r in cursor.fetchall()
    )
    cursor.close()
    return Table(table, columns, rows)


def read_raw(
    con: duckdb.DuckDBPyConnection, table: str, columns: Iterable[str], *, money: str = "exact"
) -> Table | str:
    """raw.<table>'s `columns`, or why they cannot be read (a missing table or column)."""
    columns = tuple(columns)
    present = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = ?",
            [table],
        ).fetchall()
    }
    if not present:
        return f"{table}: raw.{table} does not exist"
    missing = [c for c in columns if c not in present]
    if missing:
        return f"{table}: raw.{table} lacks column(s) {missing}"
    contract = metadata.tables[table]
    quoted = ", ".join(f'"{c}"' for c in columns)
    rows = tuple(
        tuple(raw_value(contract.c[n], v, money=money) for n, v in zip(columns, r, strict=True))
        for r in con.execute(f'SELECT {quoted} FROM raw."{table}"').fetchall()
    )
    return Table(table, columns, rows)


@dataclass(frozen=True)
class Difference:
    table: str
    key: Any
    #: The differing column; None for a whole row (missing, extra, duplicated).
    column: str | None
    text: str
    #: The changes that made this difference (`Explain`), if known.
    causes: tuple[str, ...] = ()


#: (table, key, column or None for the whole row) → the changes that made it.
Explain = Callable[[str, Any, str | None], tuple[str, ...]]


def differences(source: Table, raw: Table, explain: Explain | None = None) -> list[Difference]:
    """Nothing when the two tables hold the same multiset of full-row hashes; else one
    difference per differing column of a row (naming the table, the key, the column and
    both values), per key missing from raw, per key raw has that the source does not, per
    key raw holds twice; each with the changes `explain` says made it.
    """
    if Counter(map(row_hash, source.rows)) == Counter(map(row_hash, raw.rows)):
        return []
    src, dst = source.by_key(), raw.by_key()
    out: list[Difference] = []

    def add(key: Any, column: str | None, text: str) -> None:
        causes = explain(source.name, key, column) if explain else ()
        if causes:
            text += f"  [{'; '.join(causes)}]"
        out.append(Difference(source.name, key, column, text, causes))

    for key in sorted(set(src) & set(dst)):
        if len(dst[key]) > 1:
            add(key, None, f"{source.name} id={key}: {len(dst[key])} rows in raw")
        for name, x, y in zip(source.columns, src[key][0], dst[key][0], strict=True):
            if repr(x) != repr(y):
                add(key, name, f"{source.name} id={key} {name}: source {x!r}, raw {y!r}")
    for key in sorted(set(src) - set(dst)):
        add(key, None, f"{source.name} id={key}: missing from raw")
    for key in sorted(set(dst) - set(src)):
        add(key, None, f"{source.name} id={key}: in raw, gone from the source")
    return out
