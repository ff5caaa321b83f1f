"""A rich progress bar that is silent when disabled or when stderr is not a terminal."""

from __future__ import annotations

import sys


class Progress:
    def __init__(self, enabled: bool, *, total: int, description: str = "customers"):
        self.enabled = enabled and sys.stderr.isatty()
        self.total = total
        self.description = description
        self._progress = None
        self._task = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=Console(stderr=True), transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total)
        return self

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def report(enabled: bool, text: str) -> None:
    """One closing line on the terminal (not when quiet or redirected)."""
    if enabled and sys.stderr.isatty():
        print(text, file=sys.stderr)
