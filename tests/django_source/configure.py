"""Django configured once per process: `USE_TZ`, UTC, the app, and its databases.

Django's settings can be configured only once in a process, so every database a test
module needs is given at once: the SQLite file (alias `default`) and, when the tests start
a PostgreSQL cluster, a database in it (alias `postgres`).
"""

from __future__ import annotations

from pathlib import Path

import django
import sqlalchemy as sa
from django.conf import settings


def sqlite_database(path: str | Path) -> dict:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


def postgres_database(url: str) -> dict:
    """Django's settings of a database given by a SQLAlchemy URL."""
    parts = sa.make_url(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.database,
        "USER": parts.username or "",
        "PASSWORD": parts.password or "",
        "HOST": parts.host or "",
        "PORT": str(parts.port or ""),
    }


def configure(databases: dict[str, dict]) -> None:
    """Configure Django with `databases` (one of them `default`) and set it up.

    A second call with databases the first one did not configure fails: the settings of a
    process cannot change.
    """
    if settings.configured:
        missing = sorted(set(databases) - set(settings.DATABASES))
        same = all(settings.DATABASES[a]["NAME"] == d["NAME"] for a, d in databases.items()
                   if a not in missing)
        if missing or not same:
            raise RuntimeError(
                f"Django is already configured in this process with {sorted(settings.DATABASES)}"
                f"; cannot add or change {sorted(databases)}"
            )
        return
    settings.configure(
        INSTALLED_APPS=["django_source.apps.DjangoSourceConfig"],
        DATABASES=databases,
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
