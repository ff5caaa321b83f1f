"""The run-failure sensor's report: run, failed steps, errors, readable at a glance."""

import dagster as dg
from dagster._utils.error import SerializableErrorInfo

from pipelines.defs.sensors import error_text, failure_report, report_for, report_run_failures


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


def test_the_sensor_reports_a_real_failed_run():
    @dg.op
    def load_orders():
        raise ValueError("raw.orders_order: no such table")

    @dg.job
    def nightly():
        load_orders()

    instance = dg.DagsterInstance.ephemeral()
    result = nightly.execute_in_process(instance=instance, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name=report_run_failures.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=failure,
    ).for_run_failure()
    report = report_for(context)
    assert report.splitlines()[0] == f"Run {result.run_id} of job nightly failed."
    assert "  - load_orders: ValueError: raw.orders_order: no such table" in report.splitlines()
    report_run_failures(context)  # the sensor itself logs it without error
