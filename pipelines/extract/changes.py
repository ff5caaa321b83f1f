"""The change log: what each table's commit changed in raw, for the transformation to read.

`meta._changes` gets, in the same transaction as the raw change it describes, one row per
changed key, all rows of one table's commit sharing one `seq` (from the sequence
`meta._change_seq`: increasing with each commit, gaps allowed):

- seq BIGINT: one value per table per commit.
- table_name VARCHAR: the raw table.
- op VARCHAR: 'insert', 'update', 'delete', or 'all'.
- row_id BIGINT: the key when it is one integer column, else NULL.
- row_key VARCHAR: the key as a JSON array, `CAST(json_array(k1, k2, …) AS VARCHAR)` of
  the key columns ('[17]', '["a",3]'); NULL for 'all'.
- before JSON: for 'update' and 'delete', raw's row before the change, every column by
  name; NULL for 'insert' and 'all'.
- recorded_at TIMESTAMPTZ, run_id VARCHAR: the run's clock and id (as `meta._deleted_rows`).

- 'insert': a key raw did not have (new rows, backfilled keys, rows a content repair adds).
- 'update': a key raw had whose row differs (the merge, a content repair). Re-read rows
  identical to raw are dropped before the merge (`merge`): no change, no row.
- 'delete': a key removed from raw (hard deletes, content repairs, rows with a NULL key
  moved to `meta._rejected_rows`), with its before image.
- 'all' (one row, keys NULL): the table changed in a way not worth listing key by key:
  copied into an empty raw table (the first load, or a table emptied before), a keyless
  table swapped whole with different rows (`merge.replace`), schema drift that added or
  retyped a column of raw (`drift`), or more changed keys than the threshold: above
  `ExtractOptions.change_log_max_share` (20 %) of raw's rows before the commit AND above
  `change_log_min_rows` (10,000). Past the threshold the keys already listed in the
  commit are dropped again and no more are listed.

The before image is DuckDB's `to_json` of the raw row with every DECIMAL column as its
exact text ('12.30': JSON numbers go through a double when read back, so
`CAST(json_extract_string(before, '$.amount') AS DECIMAL(12,2))` is exact); TIMESTAMPTZ
is text in UTC ('2026-01-01 08:00:00+00'), DATE 'YYYY-MM-DD', BLOB DuckDB's escaped text
('\\xFF', back with CAST(… AS BLOB)), NULL null, integers and booleans JSON numbers and
booleans. Each log is one INSERT … SELECT from raw joined to the keys, written before
raw's rows change (no Python loop).

`prune_changes` and `changes_through` are for the transformation step.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.extract import warehouse as wh
from pipelines.extract.plan import INTEGER, TablePlan, quote

CHANGES = "_changes"
SEQUENCE = "_change_seq"
INSERT, UPDATE, DELETE, ALL = "insert", "update", "delete", "all"
_TABLE = f"{wh.META}.{CHANGES}"


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """`meta._changes` and its sequence (an older warehouse gets them on its next run)."""
    wh.run(con, f"CREATE SEQUENCE IF NOT EXISTS {wh.META}.{SEQUENCE}")
    wh.run(
        con,
        f"""
        CREATE TABLE IF NOT EXISTS {_TABLE} (
            seq BIGINT NOT NULL,
            table_name VARCHAR NOT NULL,
            op VARCHAR NOT NULL,
            row_id BIGINT,
            row_key VARCHAR,
            before JSON,
            recorded_at TIMESTAMPTZ NOT NULL,
            run_id VARCHAR
        )
        """,
    )


def prune_changes(con: duckdb.DuckDBPyConnection, through_seq: int) -> int:
    """Delete the change rows with seq <= `through_seq` (the transformation has them).
    How many."""
    return wh.run(con, f"DELETE FROM {_TABLE} WHERE seq <= ?", [int(through_seq)])[0][0]


def changes_through(con: duckdb.DuckDBPyConnection) -> int | None:
    """The highest seq in the change log (None: empty)."""
    return wh.run(con, f"SELECT max(seq) FROM {_TABLE}")[0][0]


# -- the expressions ----------------------------------------------------------------------------


def _value(ref: str, duck_type: str) -> str:
    """A column's value for JSON: DECIMAL as its exact text, the rest as it is."""
    return f"CAST({ref} AS VARCHAR)" if duck_type.startswith("DECIMAL") else ref


def key_exprs(plan: TablePlan, columns: dict[str, str], alias: str) -> tuple[str, str]:
    """(row_id, row_key) of the rows `alias`: the integer key, and the key as JSON."""
    pk = plan.primary_key
    refs = [f"{alias}.{quote(k)}" for k in pk]
    parts = ", ".join(_value(r, columns.get(k, "")) for r, k in zip(refs, pk, strict=True))
    row_key = f"CAST(json_array({parts}) AS VARCHAR)"
    if len(pk) == 1 and plan.column(pk[0]).kind == INTEGER:
        return f"CAST({refs[0]} AS BIGINT)", row_key
    return "NULL", row_key


def before_image(columns: dict[str, str], alias: str) -> str:
    """The JSON of raw's row `alias` (NULL where the row is: a LEFT JOIN's miss)."""
    fields = ", ".join(
        f"{quote(name)} := {_value(f'{alias}.{quote(name)}', t)}" for name, t in columns.items()
    )
    return f"to_json(struct_pack({fields}))"


def exceeds(changed: int, rows: int, max_share: float, min_rows: int) -> bool:
    """Whether `changed` keys of a table of `rows` rows are too many to list one by one."""
    return changed > min_rows and changed > max_share * rows


# -- one table's commit -------------------------------------------------------------------------


class ChangeLog:
    """The changes of one table's transaction, written into `meta._changes` as they are
    made (a rollback takes them back with raw's rows)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        plan: TablePlan,
        run_id: str,
        now: dt.datetime,
        *,
        max_share: float,
        min_rows: int,
    ) -> None:
        self.con, self.plan, self.run_id, self.now = con, plan, run_id, now
        self.max_share, self.min_rows = max_share, min_rows
        #: The commit's seq, taken at its first change row.
        self.seq: int | None = None
        #: Keys listed so far; raw's rows before the first change (the threshold's base).
        self.listed = 0
        self.rows_before: int | None = None
        #: The commit is one 'all' row.
        self.whole = False
        self._columns: dict[str, str] | None = None

    @property
    def target(self) -> str:
        return f"{wh.RAW}.{quote(self.plan.name)}"

    @property
    def columns(self) -> dict[str, str]:
        """Raw's columns and their types (after any drift), read once."""
        if self._columns is None:
            self._columns = wh.raw_columns(self.con, self.plan.name) or {}
        return self._columns

    def _next_seq(self) -> int:
        if self.seq is None:
            self.seq = wh.run(self.con, f"SELECT nextval('{wh.META}.{SEQUENCE}')")[0][0]
        return self.seq

    def all(self) -> None:
        """The commit is logged as one 'all' row (`finish`); keys listed so far go."""
        if self.whole:
            return
        self.whole = True
        if self.listed:
            wh.run(self.con, f"DELETE FROM {_TABLE} WHERE seq = ?", [self.seq])

    def take(self, n: int) -> bool:
        """Whether the next `n` changed keys are to be listed (called before raw's rows
        change): False once the commit is 'all', or when they pass the threshold."""
        if self.whole or not n:
            return False
        if self.rows_before is None:
            self.rows_before = wh.run(self.con, f"SELECT count(*) FROM {self.target}")[0][0]
        if exceeds(self.listed + n, self.rows_before, self.max_share, self.min_rows):
            self.all()
            return False
        self.listed += n
        return True

    def write(self, op: str, rows: str, key_alias: str, before: str = "NULL") -> None:
        """Log each row of `rows` (a FROM clause): its `op` (a SQL expression), the key of
        `key_alias`, the `before` image (a SQL expression)."""
        row_id, row_key = key_exprs(self.plan, self.columns, key_alias)
        wh.run(
            self.con,
            f"INSERT INTO {_TABLE} (seq, table_name, op, row_id, row_key, before, recorded_at, "
            f"run_id) SELECT ?, ?, {op}, {row_id}, {row_key}, {before}, ?, ? FROM {rows}",
            [self._next_seq(), self.plan.name, self.now, self.run_id],
        )

    def finish(self) -> None:
        """The 'all' row, if the commit is one (just before the state row and COMMIT)."""
        if not self.whole:
            return
        wh.run(
            self.con,
            f"INSERT INTO {_TABLE} (seq, table_name, op, recorded_at, run_id) "
            "VALUES (?, ?, ?, ?, ?)",
            [self._next_seq(), self.plan.name, ALL, self.now, self.run_id],
        )


# -- what the steps log -------------------------------------------------------------------------


def on(a: str, b: str, pk) -> str:
    return " AND ".join(f"{a}.{quote(k)} = {b}.{quote(k)}" for k in pk)


def log_deletes(log: ChangeLog, n: int, gone: str) -> None:
    """Raw's rows whose keys are in `gone`, about to be deleted."""
    if log.take(n):
        pk = log.plan.primary_key
        rows = f"{log.target} r SEMI JOIN {gone} g ON {on('r', 'g', pk)}"
        log.write(f"'{DELETE}'", rows, "r", before_image(log.columns, "r"))


def log_deletes_where(log: ChangeLog, n: int, where: str) -> None:
    """Raw's rows `r` that `where` selects, about to be deleted."""
    if log.take(n):
        before = before_image(log.columns, "r")
        log.write(f"'{DELETE}'", f"{log.target} r WHERE {where}", "r", before)


def log_merge(log: ChangeLog, n: int, stage: str) -> None:
    """The staged rows about to be merged: 'update' where raw has the key (with raw's
    row), else 'insert'."""
    if log.take(n):
        pk = log.plan.primary_key
        new = f"r.{quote(pk[0])} IS NULL"
        op = f"CASE WHEN {new} THEN '{INSERT}' ELSE '{UPDATE}' END"
        before = f"CASE WHEN {new} THEN NULL ELSE {before_image(log.columns, 'r')} END"
        log.write(op, f"{stage} s LEFT JOIN {log.target} r ON {on('s', 'r', pk)}", "s", before)


def log_missing(log: ChangeLog, n: int, keys: str) -> None:
    """The keys of `keys` raw lacks, about to be copied (inserts)."""
    if log.take(n):
        pk = log.plan.primary_key
        log.write(f"'{INSERT}'", f"{keys} k ANTI JOIN {log.target} r ON {on('k', 'r', pk)}", "k")


def same_rows(log: ChangeLog, stage: str) -> bool:
    """Whether a keyless table's stage holds exactly raw's rows (as a multiset; raw's
    columns the stage lacks then become NULL)."""
    names = log.plan.column_names
    cols = ", ".join(quote(c) for c in log.columns)
    staged = ", ".join(
        quote(c) if c in names else f"CAST(NULL AS {t}) AS {quote(c)}"
        for c, t in log.columns.items()
    )
    ((same,),) = wh.run(
        log.con,
        f"SELECT (SELECT count(*) FROM {log.target}) = (SELECT count(*) FROM {stage}) "
        f"AND NOT EXISTS (SELECT {cols} FROM {log.target} EXCEPT ALL SELECT {staged} FROM {stage})",
    )
    return bool(same)
