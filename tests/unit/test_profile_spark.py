"""The spark output of dbt_project/profiles.yml reads what the pipeline passes: the vars
`lake` and `spark_master` (pipelines/defs/dbt/assets.py::target_vars) win over
MEALYTICS_LAKE / MEALYTICS_SPARK_MASTER, which stay the fallback for dbt run by hand; and
macros/spark/lake.sql::lake_dir() (where the raw views read) names the same lake.

Rendered by dbt's own profile renderer (`Profile.render_profile`, the containment zone dbt
itself calls before it connects) and dbt's own Jinja environment, with an explicit
environment (dbt's invocation context), so nothing here starts Spark or reads os.environ."""

from __future__ import annotations

import contextvars
from pathlib import Path

import pytest
import yaml
from dbt.config.profile import Profile
from dbt.config.renderer import ProfileRenderer
from dbt_common.clients.jinja import get_template
from dbt_common.context import set_invocation_context

from pipelines.defs.dbt.assets import dbt_resource, target_vars
from pipelines.defs.resources import Warehouse

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
PROFILE = yaml.safe_load((PROJECT / "profiles.yml").read_text())
LAKE_MACROS = (PROJECT / "macros" / "spark" / "lake.sql").read_text()
#: The server-side parameters that name the lake's folder, and what each appends to it.
LAKE_PARAMETERS = {
    "spark.sql.warehouse.dir": "{lake}/spark-warehouse",
    "spark.hadoop.javax.jdo.option.ConnectionURL":
        "jdbc:derby:;databaseName={lake}/metastore_db;create=true",
    "spark.driver.extraJavaOptions": "-Dderby.system.home={lake} -Duser.timezone=UTC",
}


def _isolated(function, cli_vars: dict, env: dict):
    """`function(cli_vars)` with dbt's invocation environment `env` (in a copied context:
    the setting does not leak into other tests)."""

    def run():
        set_invocation_context(env)
        return function(cli_vars)

    return contextvars.copy_context().run(run)


def spark_parameters(cli_vars: dict, env: dict) -> dict:
    """The spark output's server_side_parameters as dbt renders them for `--target spark
    --vars <cli_vars>` in environment `env`."""

    def render(variables):
        target, data = Profile.render_profile(
            PROFILE["mealytics"], "mealytics", "spark", ProfileRenderer(variables)
        )
        assert target == "spark" and data["type"] == "spark"
        return data["server_side_parameters"]

    return _isolated(render, cli_vars, env)


def lake_dir(cli_vars: dict, env: dict) -> str:
    """What the project's lake_dir() macro renders to with the same vars and environment."""

    def render(variables):
        template = get_template(LAKE_MACROS, ProfileRenderer(variables).context,
                                capture_macros=True)
        return str(template.module.dbt_macro__lake_dir()).strip()

    return _isolated(render, cli_vars, env)


def _lakes(parameters: dict) -> set[str]:
    """The lake folder each lake parameter names (one set element when they agree)."""
    found = set()
    for name, shape in LAKE_PARAMETERS.items():
        head, tail = shape.split("{lake}")
        value = parameters[name]
        assert value.startswith(head) and value.endswith(tail), (name, value)
        found.add(value[len(head):len(value) - len(tail)])
    return found


ENV = {"MEALYTICS_LAKE": "/env/lake", "MEALYTICS_SPARK_MASTER": "spark://env:7077",
       "MEALYTICS_WAREHOUSE": "/env/data/w.duckdb"}


@pytest.mark.parametrize(
    "cli_vars, env, lake, master",
    [
        # the pipeline: the vars win over the environment
        ({"lake": "/run/lake", "spark_master": "spark://run:7077",
          "warehouse": "/run/data/w.duckdb"}, ENV, "/run/lake", "spark://run:7077"),
        # one var given, the other from the environment
        ({"lake": "/run/lake"}, ENV, "/run/lake", "spark://env:7077"),
        ({"spark_master": "local[1]"}, ENV, "/env/lake", "local[1]"),
        # dbt by hand: the environment
        ({}, ENV, "/env/lake", "spark://env:7077"),
        # neither: `lake` beside the warehouse file (the var's, else the environment's)
        ({"warehouse": "/run/data/w.duckdb"}, {"MEALYTICS_WAREHOUSE": "/env/data/w.duckdb"},
         "/run/data/lake", "local[2]"),
        ({}, {"MEALYTICS_WAREHOUSE": "/env/data/w.duckdb"}, "/env/data/lake", "local[2]"),
        ({}, {}, "data/lake", "local[2]"),
    ],
)
def test_a_var_wins_over_the_environment_and_every_lake_value_agrees(cli_vars, env, lake, master):
    parameters = spark_parameters(cli_vars, env)
    assert parameters["spark.master"] == master
    assert _lakes(parameters) == {lake}  # warehouse dir, metastore URL and Derby home
    assert lake_dir(cli_vars, env) == lake  # where the raw views read


def test_the_pipelines_vars_reach_the_profile(tmp_path):
    """What a spark run passes (`target_vars`) is what the profile then uses, whatever the
    environment of the process says."""
    warehouse = Warehouse(path=str(tmp_path / "data" / "w.duckdb"))
    dbt = dbt_resource(str(PROJECT), target="spark", lake=tmp_path / "lake",
                       spark_master="local[1]")
    variables = target_vars(dbt, warehouse)
    parameters = spark_parameters(variables, ENV)
    assert parameters["spark.master"] == "local[1]"
    assert _lakes(parameters) == {str((tmp_path / "lake").resolve())}
    assert lake_dir(variables, ENV) == str((tmp_path / "lake").resolve())
    # No lake named: the one beside the warehouse, as the profile computes it by hand too.
    default = target_vars(dbt_resource(str(PROJECT), target="spark"), warehouse)
    assert _lakes(spark_parameters(default, ENV)) == {str((tmp_path / "data" / "lake").resolve())}
