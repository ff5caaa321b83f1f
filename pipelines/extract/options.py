"""How a run extracts: the options every table of the run shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

#: The change log's threshold (`changes`): a table's commit that changes more than this
#: share of its rows AND more than `CHANGE_LOG_MIN_ROWS` keys is logged as one 'all' row.
#: The product's share is `MEALYTICS_CHANGE_LOG_MAX_SHARE` (percent, `pipelines.settings`).
CHANGE_LOG_MAX_SHARE = 0.20
CHANGE_LOG_MIN_ROWS = 10_000


@dataclass(frozen=True)
class ExtractOptions:
    full_refresh: bool = False
    #: Re-read window below the watermark for late commits.
    lookback: dt.timedelta = dt.timedelta(hours=1)
    #: How often to reconcile every primary key for hard deletes, whatever the probe
    #: says: 0 = every run, None = never (only when the probe fires).
    delete_check_every: dt.timedelta | None = dt.timedelta(days=7)
    #: Between those, a cheap probe each run says whether a table may have lost rows (the
    #: source's row count against raw's; on PostgreSQL the table's delete counter), and
    #: only then are its keys reconciled. False: the cadence alone decides.
    delete_probe: bool = True
    #: How often every keyed table's full rows are reconciled with the source (`content`):
    #: what repairs changes that do not move `updated_at` (Django's `update()`,
    #: `bulk_update()`, SET_NULL), a clock that stepped back and a restored source.
    #: 0 = every run (the library's default: exact), None = never. The product's default
    #: is daily (`MEALYTICS_CONTENT_CHECK_EVERY`, `pipelines.settings`).
    content_check_every: dt.timedelta | None = dt.timedelta(0)
    run_id: str | None = None
    #: How changed rows are found on PostgreSQL ≥ 13 (`xmin`): "xmin", the transaction id
    #: every row version carries (sees updates that leave `updated_at`), or "updated_at"
    #: (the cursor with its lookback, as on every other source). See `xmin`.
    change_cursor: str = "xmin"
    #: The mass-deletion guard (`deletes.guard_deletes`): a run may delete at most this
    #: share of a table of at least `mass_delete_min_rows` rows, and never empty a
    #: non-empty table, unless the table (or "all") is in `confirm_deletes`.
    max_delete_share: float = 0.10
    mass_delete_min_rows: int = 1000
    confirm_deletes: tuple[str, ...] = ()
    #: The change log (`changes`): past this share of a table's rows AND this many keys,
    #: a commit is one 'all' row instead of a row per changed key.
    change_log_max_share: float = CHANGE_LOG_MAX_SHARE
    change_log_min_rows: int = CHANGE_LOG_MIN_ROWS
    #: Batches queued between the reader thread and DuckDB.
    queue_depth: int = 4
    #: Called with each batch before DuckDB takes it (tests inject crashes here).
    on_batch: Callable[[pa.RecordBatch], None] | None = field(default=None, compare=False)
    #: Called with (connection, run_id) inside each table's transaction just before COMMIT.
    before_commit: Callable[[duckdb.DuckDBPyConnection, str], None] | None = field(
        default=None, compare=False
    )

    def __post_init__(self) -> None:
        if not 0 <= self.max_delete_share <= 1:
            raise ValueError(f"max_delete_share {self.max_delete_share!r}: a share in [0, 1]")
        if not 0 <= self.change_log_max_share <= 1:
            raise ValueError(
                f"change_log_max_share {self.change_log_max_share!r}: a share in [0, 1]"
            )
        if self.change_cursor not in ("xmin", "updated_at"):
            raise ValueError(
                f"change_cursor {self.change_cursor!r}: 'xmin' or 'updated_at' expected"
            )


#: The options of an ordinary incremental run.
DEFAULT_OPTIONS = ExtractOptions()
