"""Readers of the source, one per driver and dialect, behind a small registry.

Like dlt's `TABLE_LOADER_REGISTRY`, `READERS` maps a reader's name and the source's
dialect to the `ReadSession` class that reads it; `Source` picks from it:

| reader | dialect | class | how |
|---|---|---|---|
| `adbc` | sqlite | `SqliteSession` | ADBC on the file opened read-only, typed by a hint row |
| `adbc` | postgresql | `PostgresSession` | ADBC, binary COPY, REPEATABLE READ READ ONLY |
| `sqlalchemy` | any | `PortableSession` | a streaming SQLAlchemy cursor, chunked into Arrow |

`auto` takes the ADBC reader where there is one, else the portable one.
"""

from __future__ import annotations

from pipelines.extract.readers.base import ReadSession
from pipelines.extract.readers.portable import PortableSession
from pipelines.extract.readers.postgres import PostgresSession
from pipelines.extract.readers.sqlite import SqliteSession

#: (reader, dialect) → session class; dialect None: any dialect.
READERS: dict[tuple[str, str | None], type[ReadSession]] = {
    ("adbc", "sqlite"): SqliteSession,
    ("adbc", "postgresql"): PostgresSession,
    ("sqlalchemy", None): PortableSession,
}


def resolve_reader(reader: str, dialect: str) -> str:
    """The reader's name, `auto` resolved: ADBC where registered for `dialect`."""
    if reader == "auto":
        return "adbc" if ("adbc", dialect) in READERS else "sqlalchemy"
    names = {name for name, _ in READERS}
    if reader not in names:
        raise ValueError(f"unknown reader {reader!r}: 'auto' or one of {sorted(names)}")
    return reader


def reader_class(reader: str, dialect: str) -> type[ReadSession]:
    """The session class of `reader` (resolved) for `dialect`."""
    found = READERS.get((reader, dialect)) or READERS.get((reader, None))
    if found is None:
        raise ValueError(f"reader {reader!r} cannot read a {dialect} source")
    return found


__all__ = [
    "READERS",
    "PortableSession",
    "PostgresSession",
    "ReadSession",
    "SqliteSession",
    "reader_class",
    "resolve_reader",
]
