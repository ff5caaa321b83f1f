"""What a run of the generator or the simulator did, for the CLI and the benchmarks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Summary:
    """Rows inserted, updated and deleted per table by `generate` or `advance`."""

    action: str  # "generate" or "advance"
    rows: dict[str, int] = field(default_factory=dict)  # inserted
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    through: dt.date | None = None  # the simulated business now runs up to this day
    #: Rows `advance` changed without touching their updated_at (queryset.update() and the
    #: like), per table: also counted in `updated` when written through the writer.
    untracked: dict[str, int] = field(default_factory=dict)
    #: (day number, microseconds) of each simulated day the app's clock was behind.
    clock_steps: list[tuple[int, int]] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def __str__(self) -> str:
        parts = [f"{self.action}: {self.total_rows:,} rows inserted"]
        if self.updated:
            parts.append(f"{sum(self.updated.values()):,} updated")
        if self.deleted:
            parts.append(f"{sum(self.deleted.values()):,} deleted")
        parts.append(f"in {self.seconds:.1f} s")
        if self.through:
            parts.append(f"(through {self.through.isoformat()})")
        return ", ".join(parts[:-1]) + " " + parts[-1]
