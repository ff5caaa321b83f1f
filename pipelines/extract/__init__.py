"""Extraction: copy the operational database into DuckDB schema `raw`, incrementally.

Pure code, no Dagster (the assets in `pipelines.defs.raw` wrap it). The design, in short:

- **One loop** (`loop.extract_tables`): every selected table in turn, each in its own
  transaction, through one warehouse connection; the raw asset iterates it, `extract_all`
  (tests, benchmarks, scripts) wraps it. A failing table is reported and the next one
  goes on.

- **What**: every table the source reflects, minus `TableSelection.exclude` patterns
  (`django_*`, `seeds_*`, … by default; `include` narrows further). Each lands as
  `raw.<table>` with faithful types (DECIMAL(p,s), TIMESTAMPTZ in UTC, BOOLEAN, DATE).
- **Watermark**: `meta._sync_state` keeps, per table, the highest `updated_at` read
  (`merge` tables; capped at the run's start, so a future-dated row cannot hide later
  changes) or the highest `id` (`append` ledgers without `updated_at`).
- **PostgreSQL ≥ 13: xmin** (`xmin`): every keyed table is read by the transaction id of
  each row version instead, from the previous read's snapshot xmin (a 64-bit `xid8`,
  `meta._sync_state.xid_watermark`) to the current snapshot's xmax, modulo 2^32: every
  committed insert and update, whatever the application did with `updated_at`. A restore,
  a failover or 2^31 transactions make the table read whole, with the reason.
- **Lookback**: the next run reads `updated_at >= watermark − lookback` (one hour by
  default), because a transaction can commit after a later one with an earlier
  `updated_at`; rows re-read unchanged are dropped before merging, so a quiet rerun loads
  nothing (only re-read rows are compared, against raw's rows in their `updated_at`
  range, so the comparison does not read the whole raw table).
- **Merge**: changed rows are upserted by primary key (old versions deleted, new ones
  appended: cheaper for DuckDB's checkpoints than UPDATE) from a staging
  table; the first run (and `full_refresh`) copies everything.
- **Atomicity**: a table's rows, its deletes, its audit rows and its watermark commit in
  one DuckDB transaction; a crash leaves the previous state and the rerun resumes.
- **Deletes**: each run, a cheap probe per table says whether rows may be gone: the
  source's row count against raw's after the merge (SQLite counts a b-tree's cells without
  reading rows), plus PostgreSQL's per-table delete counter (`n_tup_del`), which also
  moves when a delete and a late insert leave the count equal. Only then, and weekly
  whatever the probe says (`delete_check_every`), are the table's primary keys reconciled
  with raw's. An integer key is compared by bucket fingerprints (count, sum, sum of
  squares per key range; see `reconcile`): SQLite's keys are streamed through the
  smallest covering index, PostgreSQL's by binary COPY, into DuckDB's aggregate (the
  portable reader lets the database group them); only the keys of differing buckets are
  then fetched and compared. Other keys are all streamed and anti-joined. Keys raw has and
  the source lacks are deleted from raw and kept in the audit trail `meta._deleted_rows`
  (table, id, key, time noticed, run id), because a hard delete otherwise leaves no
  evidence anywhere (see `deletes`, `warehouse`). Keys the source
  has and raw lacks (rows the cursor could not see: committed after the lookback, or a
  ledger id committed after a higher one) are fetched by key: "backfilled", whatever the
  key (integer, text, or composite: `(a, b) IN (…)`, bound, chunked).
- **Money exact** (`exact`, applied by `guard` in the reader thread): every DECIMAL
  column lands as an exact decimal of its scale: the source's, else the contract's
  (`models.schema`; Django's SQLite backend declares `decimal` without one), else
  DECIMAL(38,10). A float (SQLite's REAL) is read as the shortest decimal that
  round-trips it, never its binary expansion; an INTEGER or text exactly. A value with
  more fractional digits than the scale is rounded half-even (as Django's DecimalField
  saves) and, like one that does not fit or parse (NULL), recorded in
  `meta._rejected_values` for the `exact_decimals` check.
- **NULL keys** (`guard`): a row with a NULL in a primary key column (SQLite allows it
  outside the rowid) is refused: never in raw, kept whole as JSON in `meta._rejected_rows`
  once, named by the `keys_not_null` check; key streams drop NULL keys, so nothing is
  duplicated or falsely audited as deleted.
- **Unparsable timestamps** (SQLite text such as 'not a date'): the table is read again
  tolerantly; the row is kept with NULL in that column and the text recorded in
  `meta._rejected_values` for the `parsable_timestamps` check (see `rejects`).
- **Drift**: new columns are added, safe widenings applied, dropped columns kept (NULL
  from then on, with a warning); an incompatible type change fails that table only, with
  a message naming table, column, old and new type.
- **Speed**: Arrow record batches end to end (ADBC for SQLite and PostgreSQL, a
  SQLAlchemy streaming cursor elsewhere), a reader thread overlapping with DuckDB's
  ingest through a bounded queue; memory is bounded by batch size × queue depth.
- **Read-only**: SQLite is opened `mode=ro`; PostgreSQL sessions have
  `default_transaction_read_only=on` and read in a REPEATABLE READ READ ONLY transaction.
- **Change log** (`changes`): each table's commit writes what it changed in raw into
  `meta._changes` in the same transaction, for the transformation: one row per inserted,
  updated or deleted key (updates and deletes with raw's row before, as JSON), or one
  'all' row (a first copy, a keyless swap, drift, more keys than the threshold).
- **Faults that pass** (`retry`): recognised by exception class and code (SQLite's BUSY,
  PostgreSQL's SQLSTATEs, a lost connection), retried per table on a new connection,
  pausing 1 s, then doubling (the raw asset: 3 retries; `extract_all`: none unless asked).
- **Reflection once per run** (`catalog`): the plans reflected while the definitions were
  built serve the run that follows in the same process; the run's checks reuse its plans.

Modules, one job each:

| module | job |
|---|---|
| `plan` | reflection → `TablePlan`: which tables, their types, key, cursor and write mode |
| `catalog` | the plans a run reflected, kept for the rest of that run |
| `source` | `Source`: the URL, a read-only engine, connections and sessions |
| `readers/` | a reader per dialect behind a registry: SQLite ADBC, PostgreSQL ADBC, portable |
| `stream` | the reader thread and its bounded queue; a stream as a DuckDB view |
| `loop` | the table loop: retries, failures, `extract_all` and its report |
| `replicate` | one table's transaction: the steps below, in order, then COMMIT |
| `state` | `meta._sync_state`: the run's window, the next watermark |
| `xmin` | PostgreSQL's change cursor: xid ranges, wraparound, when to read a table whole |
| `drift` | schema drift: add, widen, keep, or refuse |
| `merge` | upsert the stage by primary key, or swap a keyless table |
| `deletes` | the probe, key reconciliation, the audit trail, backfill |
| `changes` | the change log `meta._changes`: what each commit changed, for dbt |
| `reconcile` | key-bucket fingerprints: where two key sets differ |
| `merge_sql` | every statement of the load, built by small pure functions |
| `rejects` | unparsable timestamp text: the tolerant second read |
| `exact` | decimals exact from text, floats (shortest round-trip) and integers |
| `guard` | each batch in the reader thread: exact decimals, NULL-key rows refused |
| `warehouse` | the DuckDB connection, `run`, schema `raw` and its bookkeeping tables |
| `retry` | transient faults by class and scope; the retry policy |
"""

from pipelines.errors import SchemaDriftError, SourceUnavailableError, TransientSourceError
from pipelines.extract.loop import ExtractReport, TableFailure, extract_all, extract_tables
from pipelines.extract.options import ExtractOptions
from pipelines.extract.plan import DEFAULT_EXCLUDE, TablePlan, TableSelection, reflect_plans
from pipelines.extract.replicate import TableResult, extract_table
from pipelines.extract.retry import NO_RETRIES, RetryPolicy
from pipelines.extract.source import Source
from pipelines.extract.warehouse import connect

__all__ = [
    "DEFAULT_EXCLUDE",
    "NO_RETRIES",
    "ExtractOptions",
    "ExtractReport",
    "RetryPolicy",
    "SchemaDriftError",
    "Source",
    "SourceUnavailableError",
    "TableFailure",
    "TablePlan",
    "TableResult",
    "TableSelection",
    "TransientSourceError",
    "connect",
    "extract_all",
    "extract_table",
    "extract_tables",
    "reflect_plans",
]
