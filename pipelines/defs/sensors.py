"""A failed run reported in one readable block: which run, which step, what error."""

from collections.abc import Iterable

import dagster as dg


def failure_report(
    *,
    job_name: str,
    run_id: str,
    steps: Iterable[tuple[str, str]],
    run_error: str | None = None,
) -> str:
    """The report of a failed run: `steps` are (step key, error message) pairs."""
    steps = list(steps)
    lines = [f"Run {run_id} of job {job_name} failed."]
    if steps:
        lines.append(f"Failed step{'s' if len(steps) > 1 else ''}:")
        for step, error in steps:
            first, *rest = (error or "no error message").strip().splitlines() or [""]
            lines.append(f"  - {step}: {first}")
            lines.extend(f"      {line}" for line in rest[:20])
    elif run_error:
        lines.append(f"Error: {run_error.strip()}")
    else:
        lines.append("No step failed: the run itself failed (see the run's events).")
    return "\n".join(lines)


#: Dagster's wrappers around the error a step raised: the report names the error itself.
_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def error_text(error) -> str:
    """'Class: message' of the error a step raised (a `SerializableErrorInfo`), unwrapped."""
    while error.cls_name in _WRAPPERS and (error.cause or error.context):
        error = error.cause or error.context
    message = (error.message or "").strip()
    # Dagster words some messages "package.module.Class: text"; keep the class's short name.
    head, sep, rest = message.partition(": ")
    if sep and error.cls_name and head.endswith(f".{error.cls_name}"):
        message = f"{error.cls_name}: {rest}"
    if error.cls_name and not message.startswith(error.cls_name):
        return f"{error.cls_name}: {message}"
    return message


def step_error(event: dg.DagsterEvent) -> str:
    """The error of a STEP_FAILURE event, as `error_text` words it."""
    error = getattr(event.event_specific_data, "error", None)
    return error_text(error) if error is not None else (event.message or "")


@dg.run_failure_sensor(
    name="report_run_failures",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs every failed run of this code location: run, failed steps, errors.",
)
def report_run_failures(context: dg.RunFailureSensorContext) -> None:
    context.log.error(report_for(context))


def report_for(context: dg.RunFailureSensorContext) -> str:
    """The `failure_report` of the failed run a sensor context describes."""
    return failure_report(
        job_name=context.dagster_run.job_name,
        run_id=context.dagster_run.run_id,
        steps=[(e.step_key or "?", step_error(e)) for e in context.get_step_failure_events()],
        run_error=context.failure_event.message,
    )
