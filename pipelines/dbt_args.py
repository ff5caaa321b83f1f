"""The dbt command line of a run: full refresh and the marts' `as_of` date, as dbt arguments.

Pure functions, tested without Dagster or dbt (tests/unit/test_dbt_args.py); the dbt assets
and `mealytics run` both build their arguments here, so the schedule and the CLI agree.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any


def parse_as_of(value: str | dt.date | None) -> dt.date | None:
    """The `as_of` date from text (YYYY-MM-DD), a date, or nothing (blank means nothing)."""
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    text = value.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"as_of is not a date (YYYY-MM-DD): {value!r}") from None


def dbt_vars(
    *,
    as_of: str | dt.date | None = None,
    extra: Mapping[str, Any] | None = None,
    today_so_far: bool = False,
) -> dict:
    """The `--vars` of a run: `as_of` only when given, so dbt's default (yesterday) holds;
    `today_so_far` (the frequent refresh) makes that default today, unless `as_of` is given."""
    variables = dict(extra or {})
    date = parse_as_of(as_of)
    if date is not None:
        variables["as_of"] = date.isoformat()
    elif today_so_far:
        variables["today_so_far"] = True
    return variables


def dbt_build_args(
    *,
    full_refresh: bool = False,
    as_of: str | dt.date | None = None,
    extra_vars: Mapping[str, Any] | None = None,
    unit_tests: bool = True,
    today_so_far: bool = False,
) -> list[str]:
    """`dbt build` arguments: `--full-refresh` rebuilds incremental models and seeds from
    scratch, `--vars` carries the `as_of` date (JSON, which dbt reads as YAML); without
    `unit_tests`, dbt's unit tests are left out (they test the code, not the data)."""
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if not unit_tests:
        args += ["--exclude", "resource_type:unit_test"]
    variables = dbt_vars(as_of=as_of, extra=extra_vars, today_so_far=today_so_far)
    if variables:
        args += ["--vars", json.dumps(variables, sort_keys=True)]
    return args
