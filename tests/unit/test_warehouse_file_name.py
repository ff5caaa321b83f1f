"""A warehouse or published file named like a schema (raw.duckdb, marts.duckdb) is refused.

DuckDB names a file's database after its stem, so in `raw.duckdb` the name `raw.orders` is
ambiguous and every statement on the warehouse fails. The name is refused where it is
configured, with one line naming the variable, the path and the reason.
"""

from __future__ import annotations

import duckdb
import pydantic
import pytest

from pipelines import cli, settings
from pipelines.defs.resources import Warehouse


def test_duckdb_itself_cannot_use_such_a_file(tmp_path):
    """The reason: DuckDB's own binder error (if it goes away, the refusal can too)."""
    con = duckdb.connect(str(tmp_path / "raw.duckdb"))
    try:
        with pytest.raises(duckdb.BinderException, match="Ambiguous reference"):
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            con.execute("CREATE TABLE raw.orders (id INTEGER)")
    finally:
        con.close()


@pytest.mark.parametrize(
    "name", ["raw.duckdb", "staging.duckdb", "intermediate.duckdb", "marts.duckdb", "RAW.db"]
)
def test_schema_names_are_refused(name, tmp_path, monkeypatch):
    path = tmp_path / name
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(path))
    with pytest.raises(settings.SettingsError) as caught:
        settings.Settings.from_env()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"MEALYTICS_WAREHOUSE={path}: refused")
    assert "ambiguous" in message


@pytest.mark.parametrize("name", ["warehouse.duckdb", "raw_copy.duckdb", "marts2.duckdb"])
def test_other_names_are_accepted(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(tmp_path / name))
    assert settings.Settings.from_env().warehouse == tmp_path / name
    assert Warehouse(path=str(tmp_path / name)).path == str(tmp_path / name)


def test_the_resource_refuses_it(tmp_path):
    with pytest.raises(pydantic.ValidationError, match="MEALYTICS_WAREHOUSE=.*staging.duckdb"):
        Warehouse(path=str(tmp_path / "staging.duckdb"))


def test_published_name_is_checked_too(tmp_path, monkeypatch):
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("MEALYTICS_PUBLISHED", str(tmp_path / "publish.duckdb"))
    with pytest.raises(settings.SettingsError, match="^MEALYTICS_PUBLISHED="):
        settings.Settings.from_env()
    with pytest.raises(settings.SettingsError, match="^MEALYTICS_PUBLISHED="):
        bad = Warehouse(path=str(tmp_path / "w.duckdb"), published=str(tmp_path / "publish.duckdb"))
        _ = bad.published_file
    monkeypatch.delenv("MEALYTICS_PUBLISHED")
    assert settings.Settings.from_env().published_file == tmp_path / "published.duckdb"


@pytest.mark.parametrize("variable", ["MEALYTICS_WAREHOUSE", "MEALYTICS_PUBLISHED"])
def test_mealytics_run_refuses_before_anything(variable, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEALYTICS_SOURCE_URL", f"sqlite:///{tmp_path / 'missing.db'}")
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv(variable, str(tmp_path / "marts.duckdb"))
    assert cli.main(["-q", "run"]) == 2  # a setting that cannot work: a usage error
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"mealytics: error: {variable}={tmp_path / 'marts.duckdb'}: refused")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing created
