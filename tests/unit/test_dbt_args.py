"""The dbt arguments and the run config of a run: full refresh and as_of reach dbt."""

import datetime as dt
import json
import os

import pytest

from pipelines.dbt_args import dbt_build_args, dbt_vars, parse_as_of
from pipelines.defs.dbt.project import manifest_is_stale
from pipelines.run import DBT_OP, RAW_OP, run_config


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
