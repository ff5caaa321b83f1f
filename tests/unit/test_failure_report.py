"""The run-failure sensor's report: run, failed steps, errors, readable at a glance."""

from dagster._utils.error import SerializableErrorInfo

from pipelines.defs.sensors import error_text, failure_report


def test_report_names_run_steps_and_errors():
    report = failure_report(
        job_name="all_assets",
        run_id="abc123",
        steps=[
            ("raw_tables", "Failure: raw extraction failed for orders_order: gone"),
            ("dbt_models", "KeyError: 'x'\nline two"),
        ],
    )
    assert report.splitlines() == [
        "Run abc123 of job all_assets failed.",
        "Failed steps:",
        "  - raw_tables: Failure: raw extraction failed for orders_order: gone",
        "  - dbt_models: KeyError: 'x'",
        "      line two",
    ]


def test_report_without_failed_steps_gives_the_run_error():
    report = failure_report(job_name="j", run_id="r", steps=[], run_error="run worker died")
    assert report.splitlines() == ["Run r of job j failed.", "Error: run worker died"]


def test_error_text_unwraps_dagster_wrappers():
    cause = SerializableErrorInfo("IOException: lock held\n", [], "IOException")
    wrapper = SerializableErrorInfo(
        'Error occurred while executing op "dbt_models":',
        [],
        "DagsterExecutionStepExecutionError",
        cause=cause,
    )
    assert error_text(wrapper) == "IOException: lock held"
    plain = SerializableErrorInfo("no table", [], "ValueError")
    assert error_text(plain) == "ValueError: no table"


def test_error_text_shortens_a_qualified_class_name():
    error = SerializableErrorInfo(
        "dagster._core.definitions.events.Failure: source is unavailable\n", [], "Failure"
    )
    assert error_text(error) == "Failure: source is unavailable"
