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


def _error_message(event: dg.DagsterEvent) -> str:
    error = getattr(event.event_specific_data, "error", None)
    if error is None:
        return event.message or ""
    return f"{error.cls_name}: {error.message}" if error.cls_name else error.message


@dg.run_failure_sensor(
    name="report_run_failures",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs every failed run of this code location: run, failed steps, errors.",
)
def report_run_failures(context: dg.RunFailureSensorContext) -> None:
    report = failure_report(
        job_name=context.dagster_run.job_name,
        run_id=context.dagster_run.run_id,
        steps=[(e.step_key or "?", _error_message(e)) for e in context.get_step_failure_events()],
        run_error=context.failure_event.message,
    )
    context.log.error(report)
