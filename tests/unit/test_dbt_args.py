"""The dbt arguments and the run config of a run: full refresh and as_of reach dbt."""

import datetime as dt
import json
import os

import pytest

from pipelines.dbt_args import dbt_build_args, dbt_vars, parse_as_of
from pipelines.defs.dbt.project import PARTIAL_PARSE_FILE, manifest_is_stale, seed_partial_parse
from pipelines.run import DBT_OP, RAW_OP, run_config
from pipelines.settings import DBT_UNIT_TESTS_VAR, Settings, SettingsError


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ["build"]),
        ({"full_refresh": True}, ["build", "--full-refresh"]),
        ({"as_of": "2026-01-31"}, ["build", "--vars", '{"as_of": "2026-01-31"}']),
        ({"as_of": dt.date(2026, 2, 1)}, ["build", "--vars", '{"as_of": "2026-02-01"}']),
        ({"as_of": " "}, ["build"]),
        (
            {"full_refresh": True, "as_of": "2026-01-31", "extra_vars": {"churn_days": 90}},
            ["build", "--full-refresh", "--vars", '{"as_of": "2026-01-31", "churn_days": 90}'],
        ),
    ],
)
def test_dbt_build_args(kwargs, expected):
    assert dbt_build_args(**kwargs) == expected


def test_vars_are_json_that_dbt_reads():
    args = dbt_build_args(as_of="2026-03-01")
    assert json.loads(args[args.index("--vars") + 1]) == {"as_of": "2026-03-01"}
    assert dbt_vars() == {}


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "01/02/2026"])
def test_as_of_must_be_a_date(bad):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_as_of(bad)


def test_as_of_from_datetime_and_none():
    assert parse_as_of(dt.datetime(2026, 1, 2, 3, 4)) == dt.date(2026, 1, 2)
    assert parse_as_of(None) is None


def test_run_config_reaches_extraction_and_dbt():
    config = run_config(full_refresh=True, as_of="2026-01-31")
    assert config["ops"][RAW_OP]["config"] == {"full_refresh": True}
    assert config["ops"][DBT_OP]["config"] == {"full_refresh": True, "as_of": "2026-01-31"}
    plain = run_config()
    assert plain["ops"][RAW_OP]["config"] == {"full_refresh": False}
    assert plain["ops"][DBT_OP]["config"] == {"full_refresh": False, "as_of": None}


def test_manifest_is_stale_when_missing_or_older_than_a_model(tmp_path):
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1")
    manifest = tmp_path / "target" / "manifest.json"
    assert manifest_is_stale(tmp_path, manifest)
    manifest.parent.mkdir()
    manifest.write_text("{}")
    os.utime(model, (1_000, 1_000))
    assert not manifest_is_stale(tmp_path, manifest)
    os.utime(model, None)
    os.utime(manifest, (1_000, 1_000))
    assert manifest_is_stale(tmp_path, manifest)


def test_runs_leave_unit_tests_to_ci_unless_asked():
    assert dbt_build_args(unit_tests=False) == ["build", "--exclude", "resource_type:unit_test"]
    assert dbt_build_args() == ["build"]
    assert Settings.from_env({}).dbt_unit_tests is False
    answers = [("1", True), ("Yes", True), ("on", True), ("0", False), ("false", False)]
    for text, expected in answers:
        assert Settings.from_env({DBT_UNIT_TESTS_VAR: text}).dbt_unit_tests is expected
    with pytest.raises(SettingsError, match="MEALYTICS_DBT_UNIT_TESTS='sometimes'"):
        Settings.from_env({DBT_UNIT_TESTS_VAR: "sometimes"})


def test_a_new_invocation_starts_from_the_newest_saved_parse(tmp_path):
    runs = tmp_path / "runs"
    assert seed_partial_parse(runs, runs / "first") is None  # nothing saved yet
    for name, age in [("old", 2_000), ("newer", 3_000), ("without", 4_000)]:
        (runs / name).mkdir(parents=True)
        if name != "without":
            (runs / name / PARTIAL_PARSE_FILE).write_bytes(name.encode())
            os.utime(runs / name / PARTIAL_PARSE_FILE, (age, age))
    new = runs / "new"
    assert seed_partial_parse(runs, new) == runs / "newer" / PARTIAL_PARSE_FILE
    assert (new / PARTIAL_PARSE_FILE).read_bytes() == b"newer"


def test_the_change_log_share_is_a_percentage():
    from pipelines.settings import CHANGE_LOG_MAX_SHARE_VAR

    assert Settings.from_env({}).change_log_max_pct == 20.0
    assert Settings.from_env({CHANGE_LOG_MAX_SHARE_VAR: "35%"}).change_log_max_pct == 35.0
    assert Settings.from_env({}).max_delete_pct == 10.0  # the other share keeps its default
    with pytest.raises(SettingsError, match="MEALYTICS_CHANGE_LOG_MAX_SHARE='lots'"):
        Settings.from_env({CHANGE_LOG_MAX_SHARE_VAR: "lots"})
