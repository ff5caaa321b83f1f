"""Opening the operational database, and the simulator's own state table."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa

from models import metadata
from seeds.errors import SourceError

STATE_TABLE = "seeds_simulation"

#: The simulator's state: one row per key (seed, start, through, next ids, ...), values as
#: JSON text. Not part of `models.metadata`: the extractor skips `seeds_*` tables.
state_metadata = sa.MetaData()
seeds_simulation = sa.Table(
    STATE_TABLE,
    state_metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)


def make_engine(url: str, *, create: bool) -> sa.Engine:
    """An engine for `url`; SourceError if the URL is invalid or the server unreachable.

    With create=False a missing SQLite file is an error (and is not created); with
    create=True its directory is created if only the last level is missing (data/).
    """
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise SourceError(f"invalid source URL {mask_url(url)!s}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise SourceError(f"{mask_url(url)}: a SQLite source must be a file path")
        path = Path(database)
        if not create and not path.exists():
            raise SourceError(f"{mask_url(url)}: no such database file")
        if create and not path.parent.exists():
            try:
                path.parent.mkdir()
            except OSError as exc:
                raise SourceError(
                    f"cannot reach {mask_url(url)}: {exc.strerror or exc}"
                ) from None
    try:
        engine = sa.create_engine(parsed)
    except Exception as exc:  # missing driver, bad options
        raise SourceError(f"cannot use {mask_url(url)}: {one_line(exc)}") from None
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise SourceError(f"cannot reach {mask_url(url)}: {one_line(exc)}") from None
    return engine


def mask_url(url: str | sa.URL) -> str:
    """The URL with its password hidden, for the seeder's messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return "<unparsable URL>"


def one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def existing_tables(conn: sa.Connection) -> set[str]:
    names = set(sa.inspect(conn).get_table_names())
    return names & ({t for t in metadata.tables} | {STATE_TABLE})


def nonempty_tables(conn: sa.Connection) -> list[str]:
    """Source (or state) tables that exist and hold at least one row."""
    found = []
    for name in sorted(existing_tables(conn)):
        table = sa.table(name)
        if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
            found.append(name)
    return found


def read_state(conn: sa.Connection) -> dict:
    if STATE_TABLE not in set(sa.inspect(conn).get_table_names()):
        return {}
    rows = conn.execute(sa.select(seeds_simulation.c.key, seeds_simulation.c.value)).all()
    return {k: json.loads(v) for k, v in rows}


def write_state(conn: sa.Connection, state: dict) -> None:
    seeds_simulation.create(conn, checkfirst=True)
    conn.execute(seeds_simulation.delete())
    conn.execute(
        seeds_simulation.insert(),
        [{"key": k, "value": json.dumps(v, default=_json_default)} for k, v in state.items()],
    )


def _json_default(value):
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(type(value))


def migrate(conn: sa.Connection) -> list[str]:
    """Bring a source at an older version of the contract to this one, as Django's
    `migrate` would: create the tables a later version added (with their indexes) and add
    the columns it added, nullable, at the end of their tables (`ALTER TABLE ... ADD
    COLUMN`), indexed where the contract indexes them. Rows already there keep NULL in the
    new columns. Returns what it did, one "table" or "table.column" per change."""
    from models.schema import ADDED

    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    done = []
    for name, columns in ADDED.items():
        table = metadata.tables[name]
        if name not in tables:
            table.create(conn)
            done.append(name)
            continue
        have = {c["name"] for c in inspector.get_columns(name)}
        added = [table.c[c] for c in columns if c not in have]
        for column in added:
            kind = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f'ALTER TABLE "{name}" ADD COLUMN "{column.name}" {kind}')
            done.append(f"{name}.{column.name}")
        for index in table.indexes:
            if {c.name for c in index.columns} & {c.name for c in added}:
                index.create(conn)
    return done
