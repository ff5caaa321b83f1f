"""What to copy: the source's tables found by reflection, their warehouse types and load modes.

Each reflected table becomes a `TablePlan`, declared the way dlt's sql_database declares a
resource: the primary key and the write mode next to the table, with the reason:

- `merge` (tables with an `updated_at` cursor): rows change in place (Django `auto_now`),
  so the changed rows are read by cursor and upserted by primary key.
- `append` (ledgers without `updated_at` but with an integer key): rows are never changed
  once written, so only keys above the watermark are new.
- `replace` (no cursor, no integer key): nothing tells new rows from old, so the table is
  copied whole each run.

Types are mapped to DuckDB faithfully: NUMERIC(p,s) stays DECIMAL(p,s) (money never goes
through a float in the warehouse), every timestamp becomes TIMESTAMPTZ in UTC, booleans
stay BOOLEAN, dates DATE. A NUMERIC without precision (Django's SQLite backend declares
every DecimalField `decimal`; PostgreSQL's bare `numeric`) takes the contract's precision
and scale (`models.schema`: money is NUMERIC(12,2)) where the contract has the column, else
a wide DECIMAL(38,10); either way the values arrive exact (`exact`). Binary columns
(BLOB, bytea) are BLOB, copied as bytes. A type we do not
know is copied as its text (VARCHAR), so an unusual column never stops a table from
loading.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from pipelines.errors import UnsafeIdentifierError  # noqa: F401 (re-exported)

#: Tables that are never business data: Django's own bookkeeping and the demo seeder's.
DEFAULT_EXCLUDE: tuple[str, ...] = ("django_*", "seeds_*", "auth_*", "sqlite_*", "alembic_*")

log = logging.getLogger(__name__)

#: A table name we copy: a plain identifier. It becomes a Dagster asset key and a dbt
#: source name, and is quoted in every statement anyway; anything else is refused.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: A selection pattern: an identifier with shell wildcards (`*`, `?`, `[…]`).
PATTERN = re.compile(r"[A-Za-z0-9_*?\[\]!]{1,63}")


def check_identifier(name: str, what: str = "table name") -> str:
    if not IDENTIFIER.fullmatch(name):
        raise UnsafeIdentifierError(
            f"{what} {name!r} refused: only letters, digits and _ (starting with a letter "
            "or _, at most 63) are accepted"
        )
    return name


#: Unconstrained NUMERIC (no precision in the source) lands with this precision and scale.
UNBOUNDED_DECIMAL = (38, 10)

#: Kinds: how a column travels and which DuckDB type it lands as.
INTEGER, DECIMAL, FLOAT, BOOLEAN, DATE, TIMESTAMP, TEXT, BINARY = (
    "integer",
    "decimal",
    "float",
    "boolean",
    "date",
    "timestamp",
    "text",
    "binary",
)


@dataclass(frozen=True)
class TableSelection:
    """Which source tables to copy: `include` patterns (empty = all), minus `exclude` patterns.

    Patterns are shell-style (`fnmatch`), matched against the table name.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE

    def __post_init__(self) -> None:
        for pattern in (*self.include, *self.exclude):
            if not PATTERN.fullmatch(pattern):
                raise UnsafeIdentifierError(
                    f"table pattern {pattern!r} refused: only letters, digits, _ and the "
                    "wildcards * ? [ ] are accepted"
                )

    def wants(self, name: str) -> bool:
        if self.include and not any(fnmatch.fnmatchcase(name, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(name, p) for p in self.exclude)


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    kind: str
    duck_type: str
    #: The source column's type as reflected, for messages.
    source_type: str
    precision: int | None = None
    scale: int | None = None
    #: The precision and scale are the contract's: the source declares none.
    from_contract: bool = False


@dataclass(frozen=True)
class TablePlan:
    name: str
    columns: tuple[ColumnPlan, ...]
    primary_key: tuple[str, ...]
    mode: str  # "merge" | "append" | "replace"
    cursor: str | None  # updated_at (merge) or the integer key (append)
    dialect: str
    schema: str | None = None
    table: sa.Table | None = field(default=None, compare=False, repr=False)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnPlan:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def money_columns(self) -> tuple[str, ...]:
        """DECIMAL columns: what reconciliation sums."""
        return tuple(c.name for c in self.columns if c.kind == DECIMAL)


def classify(type_: sa.types.TypeEngine, dialect: str) -> tuple[str, str, int | None, int | None]:
    """(kind, DuckDB type, precision, scale) of a reflected SQLAlchemy type."""
    if isinstance(type_, sa.Boolean):
        return BOOLEAN, "BOOLEAN", None, None
    if isinstance(type_, sa.DateTime):
        return TIMESTAMP, "TIMESTAMP WITH TIME ZONE", None, None
    if isinstance(type_, sa.Date):
        return DATE, "DATE", None, None
    if isinstance(type_, sa.Float):
        return FLOAT, "DOUBLE", None, None
    if isinstance(type_, sa.LargeBinary):
        # Bytes stay bytes (SQLite BLOB, PostgreSQL bytea): as text, one that is not UTF-8
        # would stop the table.
        return BINARY, "BLOB", None, None
    if isinstance(type_, sa.Numeric):
        if type_.precision is None:
            p, s = UNBOUNDED_DECIMAL
        else:
            p, s = type_.precision, type_.scale or 0
        if p > 38:
            return TEXT, "VARCHAR", None, None
        return DECIMAL, f"DECIMAL({p},{s})", p, s
    if isinstance(type_, sa.Integer):
        # SQLite stores every integer in up to 8 bytes whatever the declared name.
        if dialect == "sqlite" or isinstance(type_, sa.BigInteger):
            return INTEGER, "BIGINT", None, None
        if isinstance(type_, sa.SmallInteger):
            return INTEGER, "SMALLINT", None, None
        return INTEGER, "INTEGER", None, None
    return TEXT, "VARCHAR", None, None


def contract_numeric(table: str, column: str) -> tuple[int, int] | None:
    """(precision, scale) the contract (`models.schema`) declares for a NUMERIC column."""
    from models.schema import metadata

    t = metadata.tables.get(table)
    col = t.c.get(column) if t is not None else None
    if col is None or not isinstance(col.type, sa.Numeric) or col.type.precision is None:
        return None
    return col.type.precision, col.type.scale or 0


def _column_plan(table: sa.Table, col: sa.Column, dialect: str) -> ColumnPlan:
    try:
        source_type = str(col.type.compile(dialect=_dialect(dialect)))
    except (sa.exc.CompileError, NotImplementedError):
        # A type the dialect cannot render (NullType: SQLite without a declared type):
        # still copy the column, as text.
        source_type = type(col.type).__name__
    kind, duck, p, s = classify(col.type, dialect)
    if kind == DECIMAL and col.type.precision is None:
        declared = contract_numeric(table.name, col.name)
        if declared is not None:
            p, s = declared
            return ColumnPlan(col.name, kind, f"DECIMAL({p},{s})", source_type, p, s, True)
    return ColumnPlan(col.name, kind, duck, source_type, p, s)


def plan_table(
    table: sa.Table,
    dialect: str,
    *,
    cursor_column: str = "updated_at",
) -> TablePlan:
    """The load plan of one reflected table."""
    columns = [_column_plan(table, col, dialect) for col in table.columns]
    pk = tuple(c.name for c in table.primary_key.columns)
    kinds = {c.name: c.kind for c in columns}
    if pk and kinds.get(cursor_column) == TIMESTAMP:
        mode, cursor = "merge", cursor_column
    elif len(pk) == 1 and kinds[pk[0]] == INTEGER:
        mode, cursor = "append", pk[0]
    else:
        mode, cursor = "replace", None
    return TablePlan(
        name=table.name,
        columns=tuple(columns),
        primary_key=pk,
        mode=mode,
        cursor=cursor,
        dialect=dialect,
        schema=table.schema,
        table=table,
    )


def reflect_plans(
    engine: sa.Engine,
    selection: TableSelection | None = None,
    *,
    tables: Iterable[str] | None = None,
    schema: str | None = None,
) -> list[TablePlan]:
    """Reflect the source and plan every selected table (sorted by name)."""
    selection = selection or TableSelection()
    inspector = sa.inspect(engine)
    names = sorted(inspector.get_table_names(schema=schema))
    if tables is not None:
        wanted = {check_identifier(t) for t in tables}
        names = [n for n in names if n in wanted]
    names = [n for n in names if selection.wants(n)]
    for name in [n for n in names if not IDENTIFIER.fullmatch(n)]:
        # Not copied, loudly: such a name cannot be an asset key or a dbt source.
        log.error("source table %r refused: not a plain identifier (letters, digits, _)", name)
        names.remove(name)
    meta = sa.MetaData()
    meta.reflect(bind=engine, only=names, schema=schema, resolve_fks=False)
    key = (lambda n: f"{schema}.{n}") if schema else (lambda n: n)
    return [plan_table(meta.tables[key(n)], engine.dialect.name) for n in names]


def _dialect(name: str) -> sa.engine.Dialect:
    from sqlalchemy.dialects import registry

    return registry.load(name)()


def quote(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def quoted(names: Sequence[str]) -> str:
    return ", ".join(quote(n) for n in names)
