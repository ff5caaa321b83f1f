"""dbt on the `spark` target, with the project's Python models run in the session's Spark.

dbt-spark's `session` method (profiles.yml, target `spark`) runs pyspark inside the dbt
process, but its Python models can only be submitted to Databricks clusters
(`all_purpose_cluster`, `job_cluster`). This entry point adds a `session` submission
method, made the default when the profile's method is `session`: the model's compiled
code (dbt-spark's own wrapper: `model(dbt, spark)`, then `saveAsTable`) runs in this process
against the active SparkSession, so int_customers_predicted runs on Spark as it runs on
DuckDB (in dbt's process), reading its ref as a Spark DataFrame.

    python dbt_project/dbt_spark_session.py build --project-dir dbt_project \
        --profiles-dir dbt_project --target spark --vars '{as_of: 2026-02-09}'

Same arguments and exit code as `dbt`. Plain `dbt --target spark` builds every SQL
model, seed, snapshot and test, and stops at the Python model (no submission method).
"""

from __future__ import annotations

import sys
from typing import Any

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.spark.impl import SparkAdapter
from dbt.cli.main import dbtRunner


class SessionPythonJobHelper(PythonJobHelper):
    """Runs a Python model's compiled code in this process, on the active SparkSession."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        path = self.parsed_model.get("original_file_path", "<python model>")
        namespace = {"spark": spark, "__name__": "dbt_python_model"}
        exec(compile(compiled_code, path, "exec"), namespace)  # noqa: S102 (the project's own model)


def install() -> None:
    """Register the `session` method on dbt-spark's adapter (idempotent)."""
    if getattr(SparkAdapter, "_mealytics_session_python", False):
        return
    helpers = SparkAdapter.python_submission_helpers.fget
    default = SparkAdapter.default_python_submission_method.fget

    def python_submission_helpers(self: SparkAdapter) -> dict:
        return {**helpers(self), "session": SessionPythonJobHelper}

    def default_python_submission_method(self: SparkAdapter) -> str:
        method = getattr(self.config.credentials, "method", None)
        return "session" if str(getattr(method, "value", method)) == "session" else default(self)

    SparkAdapter.python_submission_helpers = property(python_submission_helpers)
    SparkAdapter.default_python_submission_method = property(default_python_submission_method)
    SparkAdapter._mealytics_session_python = True


def main(argv: list[str]) -> int:
    install()
    result = dbtRunner().invoke(argv)
    if result.exception is not None and result.result is None:
        print(result.exception, file=sys.stderr)
        return 2
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
