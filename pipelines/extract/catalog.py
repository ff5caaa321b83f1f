"""Reflection once per run: the plans a run reflected, kept for the rest of that run.

Reflecting a source costs queries per table (columns, keys, indexes); a run needs the
tables' plans three times (which assets exist, what the assets read, what the checks
compare) and reflects once:

- Building the definitions reflects the source to know which assets exist, and `offer`s
  the plans. The next run in the same process that asks for the same source and
  selection `take`s them instead of reflecting again, once, and only within `max_age_s`:
  `mealytics run` builds the definitions and starts the run a moment later, and a run
  worker of `dagster dev` loads the code location for its own run. A process that lives
  on (the code server, a test) reflects afresh for every later run, so each run sees the
  source as it is when the run starts. A migration that lands between the reflection
  and the run is met as by a run that started just before it: a new column waits for
  the next run, a dropped one fails its table by name (raw unchanged).
- The run `keep`s the plans it used under its run id, and its checks read them back
  (`for_run`) instead of reflecting again.

No Dagster here: keys are plain strings and tuples.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable

import sqlalchemy as sa

from pipelines.extract.plan import TablePlan, TableSelection

#: How long offered plans may wait for their run (the definitions are built just before).
MAX_AGE_S = 300.0
#: Runs whose plans are kept (the latest ones; a run's checks come right after its load).
KEEP_RUNS = 8


def source_key(url: sa.URL | str, selection: TableSelection | None) -> tuple[str, TableSelection]:
    """Which reflection is which: the full URL (never shown: it stays in this process)
    and the table selection."""
    url = sa.make_url(url) if isinstance(url, str) else url
    return url.render_as_string(hide_password=False), selection or TableSelection()


class PlanCatalog:
    """Plans offered by the definitions for the next run, and plans kept per run."""

    def __init__(
        self,
        *,
        max_age_s: float = MAX_AGE_S,
        keep_runs: int = KEEP_RUNS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self.keep_runs = keep_runs
        self.clock = clock
        self._offered: dict[Hashable, tuple[float, list[TablePlan]]] = {}
        self._runs: OrderedDict[str, dict[str, TablePlan]] = OrderedDict()
        self._lock = threading.Lock()

    def offer(self, key: Hashable, plans: Iterable[TablePlan]) -> None:
        """Plans just reflected, for the next run of `key` to take (replacing older ones)."""
        now = self.clock()
        with self._lock:
            self._offered = {k: v for k, v in self._offered.items() if now - v[0] <= self.max_age_s}
            self._offered[key] = (now, list(plans))

    def take(self, key: Hashable) -> list[TablePlan] | None:
        """The plans offered for `key`, if still fresh; each offer is taken once."""
        with self._lock:
            offered = self._offered.pop(key, None)
        if offered is None or self.clock() - offered[0] > self.max_age_s:
            return None
        return offered[1]

    def keep(self, run_id: str, plans: Iterable[TablePlan]) -> None:
        """The plans run `run_id` uses, for its later steps (the checks)."""
        with self._lock:
            self._runs[run_id] = {p.name: p for p in plans}
            self._runs.move_to_end(run_id)
            while len(self._runs) > self.keep_runs:
                self._runs.popitem(last=False)

    def for_run(self, run_id: str) -> dict[str, TablePlan]:
        """{table: plan} kept by run `run_id` (empty if none)."""
        with self._lock:
            return dict(self._runs.get(run_id, {}))
