"""One Django database of the mirror: its tables, its rows, and how others read it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from django.core.management.color import no_style
from django.db import connections, transaction

from django_source.models import MODELS


@dataclass(frozen=True)
class DjangoDatabase:
    """A database alias of the configured Django, and the URL the extractor reads it by."""

    alias: str
    #: SQLAlchemy URL of the same database (what `pipelines.extract` is given).
    url: str

    @property
    def vendor(self) -> str:
        """`sqlite` or `postgresql`, as Django names its backends."""
        return connections[self.alias].vendor

    def create_tables(self) -> None:
        """Every contract table, created by Django's own schema editor (Django's DDL)."""
        with connections[self.alias].schema_editor() as editor:
            for model in MODELS.values():
                editor.create_model(model)

    def load(self, rows: Mapping[str, list[dict]]) -> None:
        """Insert `rows` ({table: [{column: value}]}, values typed) with `bulk_create`.

        As a fixture load of history: rows keep the `updated_at` they were given (the
        ORM's `auto_now` would stamp them all with the time of the load). Afterwards the
        primary key sequences are moved past the loaded ids, as `loaddata` does.
        """
        with transaction.atomic(using=self.alias), history_kept():
            for table, model in MODELS.items():
                attnames = {f.column: f.attname for f in model._meta.concrete_fields}
                objs = [
                    model(**{attnames[c]: v for c, v in row.items() if c in attnames})
                    for row in rows.get(table, ())
                ]
                model.objects.using(self.alias).bulk_create(objs, batch_size=500)
        statements = connections[self.alias].ops.sequence_reset_sql(
            no_style(), list(MODELS.values())
        )
        with connections[self.alias].cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def close(self) -> None:
        """End Django's connection, as a request's end does (PostgreSQL flushes its
        per-table statistics, which the extractor's delete probe reads)."""
        connections[self.alias].close()

    @contextmanager
    def driver(self) -> Iterator[sqlite3.Connection | psycopg.Connection]:
        """A plain DB-API connection (sqlite3 / psycopg), autocommit: for reading rows."""
        url = sa.make_url(self.url)
        if url.get_backend_name() == "sqlite":
            con = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        else:
            con = psycopg.connect(
                url.set(drivername="postgresql").render_as_string(hide_password=False),
                autocommit=True,
            )
        try:
            yield con
        finally:
            con.close()


@contextmanager
def history_kept() -> Iterator[None]:
    """Within: `updated_at` keeps the value given (every model's `auto_now` off)."""
    fields = [
        f for m in MODELS.values() for f in m._meta.concrete_fields if getattr(f, "auto_now", False)
    ]
    for f in fields:
        f.auto_now = False
    try:
        yield
    finally:
        for f in fields:
            f.auto_now = True
