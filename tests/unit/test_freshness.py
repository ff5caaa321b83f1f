"""The marts' 26-hour freshness checks: built without a warning of their own, and they bite."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg
from dagster._core.test_utils import freeze_time

from pipelines.defs.freshness import MAX_AGE, build_mart_freshness

MART = dg.AssetKey(["marts", "dim_customers"])
T0 = dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.UTC)


@dg.asset(key=MART)
def mart() -> None:
    return None


def test_built_without_the_supersession_notice_and_nothing_else_is_hidden():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checks, sensors = build_mart_freshness([MART])
        warnings.warn("another warning", dg.SupersessionWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["another warning"]
    assert [s.name for s in sensors] == ["marts_freshness"]
    (check,) = [spec for c in checks for spec in c.check_specs]
    assert check.asset_key == MART and check.name.startswith("freshness")
    assert build_mart_freshness([]) == ([], [])


def test_a_mart_older_than_26_hours_fails_its_check():
    checks, _ = build_mart_freshness([MART])
    instance = dg.DagsterInstance.ephemeral()

    def outcome(at: dt.datetime) -> bool:
        with freeze_time(at):
            result = dg.materialize(
                [mart, *checks], instance=instance, selection=dg.AssetSelection.all_asset_checks()
            )
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation.passed

    with freeze_time(T0):
        assert dg.materialize([mart], instance=instance).success
    assert outcome(T0 + MAX_AGE - dt.timedelta(minutes=5)) is True
    assert outcome(T0 + MAX_AGE + dt.timedelta(minutes=5)) is False
