"""The seeder's promise: the sources it writes keep the contract's rules (`models.rules`).

`check_invariants` is `models.rules.check_rules` with the seeder's error: a database that
lacks tables of the contract is a `SourceError`, as every other failure of `seeds` is.
"""

from __future__ import annotations

import sqlalchemy as sa

from models.rules import MissingTablesError, Violation, check_rules
from seeds.errors import SourceError

__all__ = ["Violation", "check_invariants"]


def check_invariants(source: sa.Engine | sa.Connection | str | sa.URL) -> list[Violation]:
    """Every break of the contract's rules in the source, sorted; [] if healthy.

    Raises SourceError when a table of the contract is missing.
    """
    try:
        return check_rules(source)
    except MissingTablesError as exc:
        raise SourceError(str(exc)) from None
