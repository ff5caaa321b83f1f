"""Freshness of the marts: each was rebuilt within the last 26 hours (a daily run + slack)."""

import datetime as dt
import warnings
from collections.abc import Sequence

import dagster as dg

MAX_AGE = dt.timedelta(hours=26)


def build_mart_freshness(
    mart_keys: Sequence[dg.AssetKey],
) -> tuple[list[dg.AssetChecksDefinition], list[dg.SensorDefinition]]:
    """One last-update freshness check per mart, and the sensor that evaluates them."""
    if not mart_keys:
        return [], []
    # Dagster 1.13 supersedes these with `FreshnessPolicy`, which the daemon evaluates out of
    # sight; checks show pass/fail on each mart, in the UI and in `mealytics run`'s summary.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checks = list(
            dg.build_last_update_freshness_checks(
                assets=list(mart_keys), lower_bound_delta=MAX_AGE
            )
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
