"""Schema drift: the raw table follows its source table's columns, safely or not at all.

New source columns are added, safe widenings applied (INTEGER → BIGINT, DECIMAL(12,2) →
DECIMAL(14,2)); a column raw holds as the wide DECIMAL(38,10) that a source without a
declared scale used to give, and that now takes the contract's scale (`plan`), is
narrowed to it (its values rounded to that scale: the float noise the old path left,
272731.2800000001, becomes 272731.28), with a warning; a dropped column stays in raw,
NULL from then on, with a warning, unless the column is the source contract's
(`models.schema`): a contract column raw has and the source no longer has was dropped or
renamed, and `ContractBrokenError` fails the table by name, so no NULL copy of it feeds
the marts (a column a later contract version added that an older source never had is not
in raw, so it is not "dropped"); any other type change raises `SchemaDriftError`
naming table, column, old and new type, before anything is read (other tables are
unaffected).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import duckdb

from pipelines.errors import ContractBrokenError, SchemaDriftError
from pipelines.extract import warehouse as wh
from pipelines.extract.plan import UNBOUNDED_DECIMAL, TablePlan, quote

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Drift:
    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    widened: tuple[tuple[str, str, str], ...] = ()  # (column, old, new)

    def __bool__(self) -> bool:
        return bool(self.added or self.dropped or self.widened)


_INT_RANK = {"SMALLINT": 1, "INTEGER": 2, "BIGINT": 3}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_UNBOUNDED = "DECIMAL({},{})".format(*UNBOUNDED_DECIMAL)


def widens(old: str, new: str) -> bool:
    """True if every value of type `old` fits `new` unchanged (a safe ALTER)."""
    if old in _INT_RANK and new in _INT_RANK:
        return _INT_RANK[new] >= _INT_RANK[old]
    o, n = _DECIMAL.fullmatch(old), _DECIMAL.fullmatch(new)
    if o and n:
        (op, os_), (np_, ns) = map(int, o.groups()), map(int, n.groups())
        return ns >= os_ and np_ - ns >= op - os_
    return False


def _incompatible(plan: TablePlan, name: str, old: str) -> SchemaDriftError:
    col = plan.column(name)
    return SchemaDriftError(
        f"table {plan.name!r}: column {name!r} changed type incompatibly: "
        f"raw.{plan.name} has {old}, the source now has {col.source_type} "
        f"({col.duck_type}). Migrate raw.{plan.name} by hand (or drop it to "
        "re-copy it); other tables are not affected."
    )


def compare(plan: TablePlan, existing: dict[str, str]) -> Drift:
    """How the source's columns differ from the raw table's; raises on an incompatible type."""
    added, widened = [], []
    for col in plan.columns:
        old = existing.get(col.name)
        if old is None:
            added.append(col.name)
        elif old != col.duck_type:
            if col.from_contract and old == _UNBOUNDED:
                log.warning(
                    "raw.%s: column %r takes the contract's %s (the source declares no "
                    "scale): narrowed from %s, values rounded to that scale",
                    plan.name,
                    col.name,
                    col.duck_type,
                    old,
                )
            elif not widens(old, col.duck_type):
                raise _incompatible(plan, col.name, old)
            widened.append((col.name, old, col.duck_type))
    source_names = set(plan.column_names)
    dropped = tuple(c for c in existing if c not in source_names)
    broken = [c for c in dropped if c in contract_columns(plan.name)]
    if broken:
        raise ContractBrokenError(
            f"table {plan.name!r}: contract column(s) {', '.join(broken)} gone from the "
            f"source (raw.{plan.name} has them: the source had them). Dropped or renamed in "
            "the source? Restore them, or change the contract (models/schema.py) and the "
            f"models that read them; until then raw.{plan.name} is not loaded, so no NULL "
            "copy feeds the marts. Other tables are not affected.",
            columns=tuple(broken),
        )
    return Drift(tuple(added), dropped, tuple(widened))


def contract_columns(table: str) -> frozenset[str]:
    """The columns the source contract (`models.schema`) declares for `table` (none for a
    table outside it)."""
    from models.schema import metadata

    t = metadata.tables.get(table)
    return frozenset(c.name for c in t.columns) if t is not None else frozenset()


def apply_drift(con: duckdb.DuckDBPyConnection, plan: TablePlan, drift: Drift) -> None:
    """Follow the source (inside the caller's transaction): add columns, widen types.

    A dropped source column stays in raw (history keeps its values); rows written from now
    on carry NULL in it.
    """
    table = f"{wh.RAW}.{quote(plan.name)}"
    for name in drift.added:
        wh.run(con, f"ALTER TABLE {table} ADD COLUMN {quote(name)} {plan.column(name).duck_type}")
    for name, _old, new in drift.widened:
        wh.run(con, f"ALTER TABLE {table} ALTER COLUMN {quote(name)} TYPE {new}")
    for name in drift.dropped:
        log.warning(
            "table %r: column %r is gone from the source; raw.%s keeps it, NULL from now on",
            plan.name,
            name,
            plan.name,
        )
