"""`MEALYTICS_CONTENT_CHECK_EVERY` → Settings → the source resource → the run's options."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.defs.raw.assets import RawExtractConfig
from pipelines.defs.resources import default_resources
from pipelines.errors import SettingsError
from pipelines.settings import Settings


@pytest.mark.parametrize(
    ("text", "every"),
    [
        (None, dt.timedelta(days=1)),  # the product's default: daily
        ("0", dt.timedelta(0)),
        ("never", None),
        ("30m", dt.timedelta(minutes=30)),
        ("12h", dt.timedelta(hours=12)),
        ("2d", dt.timedelta(days=2)),
        (" 90 s ", dt.timedelta(seconds=90)),
    ],
)
def test_cadence_from_the_environment(text, every):
    env = {} if text is None else {"MEALYTICS_CONTENT_CHECK_EVERY": text}
    assert Settings.from_env(env).content_check_every == every


@pytest.mark.parametrize("text", ["daily", "1.5h", "-1d", "1w", "12"])
def test_a_bad_cadence_names_the_variable(text):
    with pytest.raises(SettingsError, match=r"MEALYTICS_CONTENT_CHECK_EVERY=.*is not a cadence"):
        Settings.from_env({"MEALYTICS_CONTENT_CHECK_EVERY": text})


@pytest.mark.parametrize(
    ("text", "every"),
    [("12h", dt.timedelta(hours=12)), ("0", dt.timedelta(0)), ("never", None)],
)
def test_the_setting_reaches_the_extraction_options(text, every):
    settings = Settings.from_env({"MEALYTICS_CONTENT_CHECK_EVERY": text})
    source = default_resources(settings)["source"]
    options = RawExtractConfig().options("run", source.content_check_every_minutes)
    assert options.content_check_every == every
    # A run's own config wins over the source's setting.
    own = RawExtractConfig(content_check_every_minutes=5).options(
        "run", source.content_check_every_minutes
    )
    assert own.content_check_every == dt.timedelta(minutes=5)
