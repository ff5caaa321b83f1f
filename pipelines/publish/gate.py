"""Whether a run may publish: the one rule, and its one-line reason (no Dagster import).

A run publishes only what it can vouch for: no ERROR-severity check of the run failed, no
step of the run failed, and every other step of the run has finished (so every check has
been evaluated). WARN checks do not stop publishing; they are named in the summary. The
publish asset (`pipelines/defs/publish.py`) asks this before it builds anything, from the
run's own events, and `mealytics run`'s summary gives the same reason when a run did not
publish.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipelines.errors import MealyticsError

ERROR = "ERROR"


class NotPublishedError(MealyticsError):
    """The run did not publish; the previous publication stays current, whole."""


@dataclass(frozen=True)
class CheckResult:
    asset: str
    check: str
    passed: bool
    severity: str


def refusal(
    checks: Iterable[CheckResult],
    failed_steps: Iterable[str] = (),
    unfinished_steps: Iterable[str] = (),
) -> str | None:
    """Why the run must not publish (one line, without the "not published: " prefix), or
    None if it may. A failed ERROR check is named first: it is the likeliest cause of
    anything else."""
    failed = [c for c in checks if not c.passed and c.severity.upper() == ERROR]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more ERROR checks)" if len(failed) > 1 else ""
        return f"check {first.check} on {first.asset} failed (ERROR){more}"
    failed_steps = sorted(set(failed_steps))
    if failed_steps:
        more = f" (and {len(failed_steps) - 1} more steps)" if len(failed_steps) > 1 else ""
        return f"step {failed_steps[0]} failed{more}"
    unfinished = sorted(set(unfinished_steps))
    if unfinished:
        return (
            f"step {unfinished[0]} had not finished: publishing waits for every step and "
            "check of the run"
        )
    return None


def warned(checks: Iterable[CheckResult]) -> list[CheckResult]:
    """The failed checks that do not stop publishing (WARN)."""
    return [c for c in checks if not c.passed and c.severity.upper() != ERROR]
