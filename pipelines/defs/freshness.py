"""Freshness of the marts: each was rebuilt within the last 26 hours (a daily run + slack)."""

import datetime as dt
import warnings
from collections.abc import Sequence

import dagster as dg
from dagster import SupersessionWarning

MAX_AGE = dt.timedelta(hours=26)


def build_mart_freshness(
    mart_keys: Sequence[dg.AssetKey],
) -> tuple[list[dg.AssetChecksDefinition], list[dg.SensorDefinition]]:
    """One last-update freshness check per mart, and the sensor that evaluates them."""
    if not mart_keys:
        return [], []
    with warnings.catch_warnings():
        # Both builders are *superseded* in Dagster 1.13 (discouraged, no removal planned, no
        # breaking version) by `FreshnessPolicy` on the assets. That replacement yields no
        # asset checks: the daemon of `dagster dev` keeps a freshness state per asset, which
        # `mealytics run` (no daemon) never sees, with no check history and, per Dagster's own
        # docs, still under active development. Checks show pass/fail on each mart, in the UI
        # and in `mealytics run`'s summary, so they stay; only their supersession notice is
        # silenced, every other warning still shows.
        for builder in ("build_last_update_freshness_checks", "build_sensor_for_freshness_checks"):
            warnings.filterwarnings(
                "ignore", f"Function `{builder}` is superseded", SupersessionWarning
            )
        checks = list(
            dg.build_last_update_freshness_checks(assets=list(mart_keys), lower_bound_delta=MAX_AGE)
        )
        sensor = dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name="marts_freshness",
            # A check is re-evaluated when it could have changed; an hour is fine-grained enough
            # for a 26-hour bound, and keeps the one-run queue free for real runs.
            minimum_interval_seconds=3600,
            default_status=dg.DefaultSensorStatus.RUNNING,
        )
    return checks, [sensor]
