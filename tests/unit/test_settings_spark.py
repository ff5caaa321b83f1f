"""The spark target's settings: MEALYTICS_DBT_TARGET, MEALYTICS_LAKE, MEALYTICS_SPARK_MASTER,
and what they make of the resources (the lake written only on spark, dbt's target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.defs.resources import default_resources
from pipelines.settings import Settings, SettingsError


def test_the_defaults_are_duckdb_and_a_lake_beside_the_warehouse(tmp_path):
    config = Settings.from_env({"MEALYTICS_WAREHOUSE": str(tmp_path / "w.duckdb")})
    assert config.dbt_target == "duckdb" and not config.on_spark
    assert config.lake_folder == (tmp_path / "lake").resolve()
    assert config.spark_master == "local[2]"
    assert default_resources(config)["warehouse"].lake is None  # not written on duckdb


@pytest.mark.parametrize("text", ["spark", "Spark", " SPARK "])
def test_spark_in_any_case(text, tmp_path):
    config = Settings.from_env(
        {
            "MEALYTICS_DBT_TARGET": text,
            "MEALYTICS_LAKE": str(tmp_path / "elsewhere"),
            "MEALYTICS_SPARK_MASTER": "spark://10.0.0.5:7077",
        }
    )
    assert config.on_spark and config.dbt_target == "spark"
    assert config.lake_folder == (tmp_path / "elsewhere").resolve()
    assert config.spark_master == "spark://10.0.0.5:7077"
    assert default_resources(config)["warehouse"].lake == str((tmp_path / "elsewhere").resolve())


@pytest.mark.parametrize("text", ["postgres", "duck", "spark2", "trino"])
def test_any_other_target_is_a_clear_error(text):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"MEALYTICS_DBT_TARGET": text})
    message = str(error.value)
    assert "MEALYTICS_DBT_TARGET" in message and repr(text) in message
    assert "'duckdb'" in message and "'spark'" in message


def test_blank_means_duckdb():
    assert Settings.from_env({"MEALYTICS_DBT_TARGET": "", "MEALYTICS_LAKE": ""}).dbt_target == (
        "duckdb"
    )


def test_the_dbt_resource_gets_the_target_and_its_vars(tmp_path):
    from pipelines.defs.dbt.assets import dbt_resource, target_vars
    from pipelines.defs.resources import Warehouse

    project = str(Path(__file__).resolve().parents[2] / "dbt_project")  # not parsed here
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    duck = dbt_resource(project)
    assert duck.target is None and not duck.on_spark
    assert target_vars(duck, warehouse) == {"warehouse": str((tmp_path / "w.duckdb").resolve())}
    spark = dbt_resource(project, target="spark", lake=tmp_path / "lake", spark_master="local[2]")
    assert spark.target == "spark" and spark.on_spark
    assert target_vars(spark, warehouse) == {
        "warehouse": str((tmp_path / "w.duckdb").resolve()),
        "lake": str((tmp_path / "lake").resolve()),
        "spark_master": "local[2]",
    }
    assert Path(spark.lake).is_absolute()


def test_the_publish_step_reads_sparks_marts_on_the_spark_target(tmp_path, monkeypatch):
    from pipelines.defs import publish as step
    from pipelines.defs.resources import Warehouse
    from pipelines.publish import spark

    calls = []
    monkeypatch.setattr(
        spark,
        "publish_from_spark",
        lambda lake, out, **kw: calls.append(("spark", lake, kw["project_dir"].name)) or {},
    )
    monkeypatch.setattr(
        step, "publish_version", lambda path, out, **kw: calls.append(("duckdb", path)) or {}
    )
    step._publish(Warehouse(path=str(tmp_path / "w.duckdb"), lake=str(tmp_path / "lake")), {})
    step._publish(Warehouse(path=str(tmp_path / "w.duckdb")), {})
    assert calls == [
        ("spark", str(tmp_path / "lake"), "dbt_project"),
        ("duckdb", str(tmp_path / "w.duckdb")),
    ]


def test_the_spark_target_runs_dbt_through_the_projects_spark_entry_point(tmp_path):
    import subprocess

    from pipelines.defs.dbt.assets import SPARK_ENTRY, dbt_resource, spark_dbt_executable
    from pipelines.defs.dbt.project import dbt_executable

    project = tmp_path / "project"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: x\n")
    assert spark_dbt_executable(project, tmp_path / "dbt") == dbt_executable()  # no entry point
    (project / SPARK_ENTRY).write_text("import sys\nprint('entry', *sys.argv[1:])\n")
    launcher = spark_dbt_executable(project, tmp_path / "dbt")
    done = subprocess.run([launcher, "build", "--target", "spark"], capture_output=True, text=True)
    assert done.stdout.strip() == "entry build --target spark"
    resource = dbt_resource(str(project), artifacts_dir=tmp_path / "dbt", target="spark")
    assert resource.dbt_executable == launcher
    assert dbt_resource(str(project)).dbt_executable == dbt_executable()
