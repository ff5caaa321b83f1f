"""The project's own errors: the ones a user is told about in one line.

Everything the product raises on purpose derives from `MealyticsError`; its message is one
line, safe to print (URLs in it have their password masked). The command line prints such
an error as `mealytics: error: <message>` and exits 1; anything else is a bug and keeps its
traceback. No Dagster import here: `pipelines.extract` and the CLI use these too.
"""

from __future__ import annotations


class MealyticsError(Exception):
    """An error with a message for the user; the CLI prints it as one line, exit 1."""


class SettingsError(MealyticsError, ValueError):
    """A setting that cannot work; the message names the variable, its value and why."""


class SeedError(MealyticsError):
    """The demo source cannot be generated or advanced as asked (`seeds.SourceError`)."""


class DefinitionsError(MealyticsError):
    """The code location cannot be built (the run never starts)."""


class TransientSourceError(MealyticsError):
    """A source fault that passes: the extraction tries again (`pipelines.extract.retry`).

    Raised where a driver's own error carries no class to tell it by (ADBC reports a
    dropped connection as a generic I/O error, SQLite's lock as an invalid argument).
    `source_wide`: the whole source is affected, not one table, so once its retries are
    spent the other tables are not tried either.
    """

    source_wide = True


class SourceUnavailableError(TransientSourceError):
    """The source cannot be reached or opened; nothing was changed in the warehouse."""


class SourceBusyError(TransientSourceError):
    """Another process holds a write lock on the source file (SQLite's SQLITE_BUSY)."""


class SourceConnectionLostError(TransientSourceError):
    """The server dropped the connection while a table was read."""


class TableNotInSourceError(MealyticsError):
    """A table selected for extraction that the source no longer has."""


class UnsafeIdentifierError(MealyticsError, ValueError):
    """A table name or selection pattern that is not a plain identifier."""


class SchemaDriftError(MealyticsError):
    """A source column changed type in a way the raw table cannot follow."""


class ContractBrokenError(SchemaDriftError):
    """A table or column of the source contract (`models.schema`) that the source had,
    and raw copied, is gone from the source (dropped or renamed): the table fails rather
    than let a frozen or NULL copy feed the marts."""

    def __init__(self, message: str, *, columns: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.columns = columns


class MassDeleteError(MealyticsError):
    """A run would delete more of a table than the mass-deletion guard allows
    (`pipelines.extract.deletes.guard_deletes`); the table's transaction is rolled back."""

    def __init__(self, message: str, *, table: str, deleting: int, rows: int) -> None:
        super().__init__(message)
        self.table = table
        self.deleting = deleting
        self.rows = rows

    @property
    def share(self) -> float:
        return self.deleting / self.rows if self.rows else 0.0


class WarehouseLockedError(MealyticsError):
    """Another process holds the warehouse file; DuckDB's message names its PID."""


class WarehouseLockTimeout(MealyticsError):
    """The lock stayed held by another run for longer than the timeout."""


class LoyaltyAnalyticsError(MealyticsError):
    """The warehouse cannot answer: missing, not built by dbt yet, or locked."""


class WarehouseCorruptError(MealyticsError):
    """The warehouse file is not a DuckDB database DuckDB can open (damaged, or another
    kind of file); the message says how to rebuild it from the source."""


class InstanceStorageError(MealyticsError):
    """The Dagster instance's storage (`DAGSTER_HOME`) cannot be read."""
