"""MEALYTICS_PG_CHANGE_CURSOR: PostgreSQL's change cursor, from the environment."""

from __future__ import annotations

import pytest

from pipelines.defs.resources import default_resources
from pipelines.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "xmin"), ("xmin", "xmin"), ("updated_at", "updated_at"), (" Updated_At", "updated_at")],
)
def test_change_cursor_setting(value, expected):
    env = {} if value is None else {"MEALYTICS_PG_CHANGE_CURSOR": value}
    config = Settings.from_env(env)
    assert config.pg_change_cursor == expected
    assert default_resources(config)["source"].change_cursor == expected


def test_unknown_change_cursor_is_refused_naming_the_variable():
    with pytest.raises(SettingsError, match="MEALYTICS_PG_CHANGE_CURSOR='wal'"):
        Settings.from_env({"MEALYTICS_PG_CHANGE_CURSOR": "wal"})
