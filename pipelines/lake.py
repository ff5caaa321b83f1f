"""The lake: the warehouse's `raw` tables as Parquet files Spark reads natively.

Layout (the contract of issue 19, /work/briefs/spark-contract.md): `$MEALYTICS_LAKE/raw/T/`
holds, for each raw table T, Parquet files whose union is exactly raw.T's rows (same
columns and types: DECIMAL as Parquet decimal, TIMESTAMPTZ as a UTC-adjusted TIMESTAMP),
with no partition sub-folder. Names starting with `_` or `.` are never data (Spark and
`data_files` skip them): `_manifest.json`, and the temporary files of a write.

Incremental: a table's rows are bucketed by their primary key, one bucket per file (or a
few), and a write rewrites only the buckets the extraction's change log (`meta._changes`,
`pipelines.extract.changes`) names since the lake's last write:

- `range` (one integer key, every table of the contract): bucket = key // width, the width
  chosen at the table's full write for about `rows_per_file` rows a bucket. New rows (rising
  ids) land in the last buckets, so a day's inserts rewrite one or two files, not all.
- `hash` (any other key): bucket = hash(the key's JSON text, as the change log's `row_key`)
  % n, n fixed at the full write. DuckDB's `hash` is recorded (`hash_probe`): another
  DuckDB version hashing differently gets a full write.
- `whole` (no key known): one bucket; any change rewrites it.

A change logged as `all` (a first load, drift, too many keys), a schema change of raw, a
bucketing scheme that no longer fits or a missing/broken manifest writes the table whole.

Crash safety (per table): new files are written under temporary names starting with `.`;
then the manifest (`_manifest.json`: scheme, files per bucket, the change-log seq it
reflects, columns) is replaced by an atomic rename: the commit point. Only then are the
temporary files renamed to their visible names and the replaced files deleted. The next
write first `recover`s: files the manifest names but still under their temporary name are
renamed (roll forward), and every other file (old versions, temporary files of a write
that never committed) is deleted. A crash therefore leaves, after the next `recover`, the
state of the last committed manifest, and the write then applies the changes since its
seq. Writing twice with no change in between writes nothing (idempotent).

The writer reads raw in one DuckDB transaction (a snapshot): the change log's position and
the rows it copies agree. It never writes to the warehouse. After a table's write its row
count is compared with raw's (Parquet footers: free); a difference (the change log was
pruned past the lake's seq, e.g. by dbt on the duckdb target while the lake was not
written) rewrites the table whole. `verify` compares row counts and a content hash per
table (the lake asset's check).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines import duck

RAW = "raw"
MANIFEST = "_manifest.json"
#: Rows a bucket holds after a full write (about 50-100 MB of Parquet for the widest tables).
DEFAULT_ROWS_PER_FILE = 1_000_000
VERSION = 1
_BUCKET = "__lake_bucket"
_INTEGER_TYPES = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_data_file(name: str) -> bool:
    """Whether a file of a table's folder is data: Parquet, not hidden, not a marker."""
    return name.endswith(".parquet") and not name.startswith(("_", "."))


def table_folder(lake: str | os.PathLike, table: str) -> Path:
    return Path(lake) / RAW / table


def data_files(lake: str | os.PathLike, table: str) -> list[Path]:
    """The table's visible data files (what Spark reads), sorted."""
    folder = table_folder(lake, table)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_data_file(p.name))


# -- the manifest ----------------------------------------------------------------------------


@dataclass
class Manifest:
    """What a table's folder holds: the committed state of its last write."""

    table: str
    scheme: str  # "range" | "hash" | "whole"
    key: list[str]
    #: range: the width of a bucket's key interval; hash: the number of buckets; whole: 1.
    size: int
    #: The change log's seq the files reflect (None: no change log yet).
    seq: int | None
    #: raw's columns and types when written.
    columns: dict[str, str]
    #: bucket (as text, JSON keys) -> visible file names.
    files: dict[str, list[str]] = field(default_factory=dict)
    rows: int = 0
    hash_probe: int | None = None
    version: int = VERSION

    def names(self) -> set[str]:
        return {name for names in self.files.values() for name in names}

    def dump(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True)

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        """The manifest at `path`; None when absent or unreadable (the table is rewritten)."""
        try:
            data = json.loads(path.read_text())
            manifest = cls(**data)
        except (OSError, ValueError, TypeError):
            return None
        return manifest if manifest.version == VERSION else None


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _commit_manifest(folder: Path, manifest: Manifest) -> None:
    """Replace the table's manifest atomically (the write's commit point)."""
    temp = folder / f".{MANIFEST}.{uuid.uuid4().hex[:8]}"
    temp.write_text(manifest.dump())
    _fsync(temp)
    os.replace(temp, folder / MANIFEST)
    _fsync(folder)


def _temp_name(name: str) -> str:
    return "." + name


def recover(lake: str | os.PathLike, table: str) -> Manifest | None:
    """Bring a table's folder to its manifest's state: roll its committed files forward
    (renamed from their temporary names), delete everything else (old versions, a write
    that never committed). The manifest, or None when it is missing, broken or names a
    file that is gone (the table is then written whole)."""
    folder = table_folder(lake, table)
    if not folder.is_dir():
        return None
    manifest = Manifest.load(folder / MANIFEST)
    keep = manifest.names() if manifest is not None else set()
    for name in sorted(keep):
        visible, temp = folder / name, folder / _temp_name(name)
        if not visible.exists() and temp.exists():
            os.replace(temp, visible)
        if not visible.exists():
            manifest, keep = None, set()
            break
    for entry in folder.iterdir():
        if entry.name == MANIFEST or entry.name in keep:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return manifest


# -- reading raw -------------------------------------------------------------------------------


def raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
        [RAW],
    ).fetchall()
    return [r[0] for r in rows]


def raw_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [RAW, table],
    ).fetchall()
    return dict(rows)


def _has_change_log(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'meta' and table_name = '_changes'"
        ).fetchone()[0]
    )


def _hash_probe(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("select hash('mealytics lake')").fetchone()[0])


def _key_text(key: Sequence[str], columns: Mapping[str, str]) -> str:
    """The key as the change log's `row_key` writes it (`changes.key_exprs`): a JSON array,
    DECIMAL columns as their exact text."""
    parts = ", ".join(
        f"CAST({quote(k)} AS VARCHAR)" if columns[k].startswith("DECIMAL") else quote(k)
        for k in key
    )
    return f"CAST(json_array({parts}) AS VARCHAR)"


def _scheme(key: Sequence[str], columns: Mapping[str, str]) -> str:
    if not key or any(k not in columns for k in key):
        return "whole"
    if len(key) == 1 and columns[key[0]] in _INTEGER_TYPES:
        return "range"
    return "hash"


def _bucket_of_rows(manifest: Manifest, columns: Mapping[str, str]) -> str:
    """The SQL expression of a raw row's bucket."""
    if manifest.scheme == "range":
        return f"CAST({quote(manifest.key[0])} AS BIGINT) // {manifest.size}"
    if manifest.scheme == "hash":
        return f"CAST(hash({_key_text(manifest.key, columns)}) % {manifest.size} AS BIGINT)"
    return "CAST(0 AS BIGINT)"


def _plan_full(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: Sequence[str],
    columns: dict[str, str],
    rows_per_file: int,
    seq: int | None,
) -> Manifest:
    scheme = _scheme(key, columns)
    rows = con.execute(f"select count(*) from {RAW}.{quote(table)}").fetchone()[0]
    size = 1
    if scheme == "range":
        lo, hi = con.execute(
            f"select min({quote(key[0])}), max({quote(key[0])}) from {RAW}.{quote(table)}"
        ).fetchone()
        span = (hi - lo + 1) if rows else rows_per_file
        # About rows_per_file rows a bucket, ids assumed about as dense as now.
        size = max(1, math.ceil(span * rows_per_file / max(rows, 1)))
    elif scheme == "hash":
        size = max(1, math.ceil(rows / rows_per_file))
    return Manifest(
        table=table,
        scheme=scheme,
        key=list(key) if scheme != "whole" else [],
        size=size,
        seq=seq,
        columns=columns,
        hash_probe=_hash_probe(con),
    )


def _changed_buckets(
    con: duckdb.DuckDBPyConnection, manifest: Manifest, through: int | None
) -> set[int] | None:
    """The buckets holding keys the change log changed after the manifest's seq (up to
    `through`); None: the table is to be written whole."""
    if through is None or (manifest.seq is not None and through <= manifest.seq):
        return set()
    since = -1 if manifest.seq is None else manifest.seq
    where = "table_name = ? and seq > ? and seq <= ?"
    params = [manifest.table, since, through]
    ops = dict(
        con.execute(
            f"select op, count(*) from meta._changes where {where} group by op", params
        ).fetchall()
    )
    if not ops:
        return set()
    if "all" in ops or manifest.scheme == "whole":
        return None
    if manifest.scheme == "range":
        nulls = con.execute(
            f"select count(*) from meta._changes where {where} and row_id is null", params
        ).fetchone()[0]
        if nulls:
            return None
        rows = con.execute(
            f"select distinct row_id // {manifest.size} from meta._changes where {where}",
            params,
        ).fetchall()
        return {int(b) for (b,) in rows}
    rows = con.execute(
        f"select distinct CAST(hash(row_key) % {manifest.size} AS BIGINT) "
        f"from meta._changes where {where} and row_key is not null",
        params,
    ).fetchall()
    return {int(b) for (b,) in rows}


# -- writing -----------------------------------------------------------------------------------


@dataclass
class TableWrite:
    """What a write did to one table."""

    table: str
    #: "full" (written whole), "incremental", "unchanged", "repaired" (whole, after the
    #: row count disagreed with raw's).
    mode: str
    buckets_written: int = 0
    files_written: int = 0
    files_removed: int = 0
    rows_written: int = 0
    rows: int = 0
    seq: int | None = None
    reason: str = ""


def _write_buckets(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    manifest: Manifest,
    columns: dict[str, str],
    buckets: set[int] | None,
    token: str,
) -> tuple[dict[str, list[str]], int]:
    """Copy raw's rows of `buckets` (None: all) into temporary files of `folder`:
    ({bucket: [visible names]}, rows written). Buckets left without rows get no entry."""
    bucket = _bucket_of_rows(manifest, columns)
    cols = ", ".join(quote(c) for c in columns)
    where = ""
    if buckets is not None:
        where = f" where {bucket} in ({', '.join(str(b) for b in sorted(buckets))})"
    work = folder / f".w-{token}"
    query = f"select {cols}, {bucket} as {_BUCKET} from {RAW}.{quote(manifest.table)}{where}"
    con.execute(
        f"COPY ({query}) TO '{work}' (FORMAT parquet, PARTITION_BY ({_BUCKET}), "
        "OVERWRITE_OR_IGNORE)"
    )
    written: dict[str, list[str]] = {}
    for part in sorted(work.glob(f"{_BUCKET}=*")) if work.exists() else []:
        number = int(part.name.split("=", 1)[1])
        for i, source in enumerate(sorted(part.glob("*.parquet"))):
            name = f"b{number:07d}-{token}-{i}.parquet"
            os.replace(source, folder / _temp_name(name))
            _fsync(folder / _temp_name(name))
            written.setdefault(str(number), []).append(name)
    shutil.rmtree(work, ignore_errors=True)
    files = [folder / _temp_name(n) for names in written.values() for n in names]
    rows = 0
    if files:
        listing = ", ".join(f"'{f}'" for f in files)
        rows = con.execute(f"select count(*) from read_parquet([{listing}])").fetchone()[0]
    return written, rows


#: The bucket of the empty file an empty table keeps (Spark cannot read a folder without
#: a Parquet file: it would not know the columns).
EMPTY = "empty"


def _keep_schema_file(con, folder, manifest, columns, files, written, replaced, token) -> None:
    """An empty table keeps one empty Parquet file (its columns); a table with rows none."""
    if any(names for bucket, names in files.items() if bucket != EMPTY):
        replaced.update(files.pop(EMPTY, []))
        return
    if files.get(EMPTY):
        return
    cols = ", ".join(quote(c) for c in columns)
    name = f"empty-{token}.parquet"
    con.execute(
        f"COPY (select {cols} from {RAW}.{quote(manifest.table)} limit 0) "
        f"TO '{folder / _temp_name(name)}' (FORMAT parquet)"
    )
    files[EMPTY] = written[EMPTY] = [name]


def _lake_rows(con: duckdb.DuckDBPyConnection, lake: Path, table: str) -> int:
    files = data_files(lake, table)
    if not files:
        return 0
    listing = ", ".join(f"'{f}'" for f in files)
    return con.execute(f"select count(*) from read_parquet([{listing}])").fetchone()[0]


def _what_to_write(
    con: duckdb.DuckDBPyConnection,
    old: Manifest | None,
    key: Sequence[str],
    columns: dict[str, str],
    through: int | None,
    full: bool,
) -> tuple[set[int] | None, str]:
    """(the buckets to rewrite, None: the whole table; why whole)."""
    if full:
        return None, "full write asked"
    if old is None:
        return None, "no manifest"
    if old.columns != columns:
        return None, "raw's columns changed"
    if old.key != (list(key) if _scheme(key, columns) != "whole" else []):
        return None, "the key changed"
    if old.scheme == "hash" and old.hash_probe != _hash_probe(con):
        return None, "DuckDB hashes differently"
    buckets = _changed_buckets(con, old, through)
    return buckets, "" if buckets is not None else "the change log says the table changed whole"


def _write_table(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    table: str,
    key: Sequence[str],
    through: int | None,
    *,
    full: bool,
    rows_per_file: int,
) -> TableWrite:
    folder = table_folder(lake, table)
    folder.mkdir(parents=True, exist_ok=True)
    old = recover(lake, table)
    columns = raw_columns(con, table)
    buckets, reason = _what_to_write(con, old, key, columns, through, full)
    if buckets is None:
        manifest = _plan_full(con, table, key, columns, rows_per_file, through)
        replaced = old.names() if old is not None else set()
        files: dict[str, list[str]] = {}
    else:
        assert old is not None
        manifest = Manifest(**{**old.__dict__, "files": dict(old.files), "seq": through})
        if not buckets:
            result = TableWrite(table, "unchanged", rows=old.rows, seq=through)
            if through is not None and through != old.seq:
                manifest.seq = through
                _commit_manifest(folder, manifest)
            return result
        replaced = {n for b in buckets for n in old.files.get(str(b), [])}
        files = {b: n for b, n in old.files.items() if b == EMPTY or int(b) not in buckets}
    token = f"{through or 0:09d}-{uuid.uuid4().hex[:8]}"
    written, rows_written = _write_buckets(con, folder, manifest, columns, buckets, token)
    files.update(written)
    _keep_schema_file(con, folder, manifest, columns, files, written, replaced, token)
    manifest.files = files
    manifest.rows = con.execute(f"select count(*) from {RAW}.{quote(table)}").fetchone()[0]
    _commit_manifest(folder, manifest)
    # Committed: the new files become visible, the replaced ones go (`recover` would do
    # both after a crash from here on).
    for names in written.values():
        for name in names:
            os.replace(folder / _temp_name(name), folder / name)
    for name in replaced:
        (folder / name).unlink(missing_ok=True)
    _fsync(folder)
    return TableWrite(
        table,
        "full" if buckets is None else "incremental",
        buckets_written=len(buckets) if buckets is not None else len(written),
        files_written=sum(len(n) for n in written.values()),
        files_removed=len(replaced),
        rows_written=rows_written,
        rows=manifest.rows,
        seq=through,
        reason=reason,
    )


def default_keys(tables: Iterable[str]) -> dict[str, list[str]]:
    """The primary keys of the source contract's tables (models.schema); other tables have
    none known (written whole)."""
    from models.schema import metadata

    keys = {}
    for table in tables:
        spec = metadata.tables.get(table)
        keys[table] = [c.name for c in spec.primary_key.columns] if spec is not None else []
    return keys


@contextlib.contextmanager
def _connection(warehouse) -> Iterable[duckdb.DuckDBPyConnection]:
    if isinstance(warehouse, duckdb.DuckDBPyConnection):
        yield warehouse
        return
    # Not read-only: a read-only connection cannot open a file this process already has
    # open for writing (the run's other steps); nothing is written through it.
    con = duck.connect(warehouse)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        # The run's work memory (spills past it): at 1M customers the full write peaked at
        # 3.7 GiB of RSS without it (benchmarks/lake_bench.py).
        con.execute(f"SET memory_limit = '{duck.WORK_MEMORY_LIMIT}'")
        con.execute("SET preserve_insertion_order = false")
        yield con
    finally:
        con.close()


def write(
    warehouse: str | os.PathLike | duckdb.DuckDBPyConnection,
    lake: str | os.PathLike,
    *,
    keys: Mapping[str, Sequence[str]] | None = None,
    tables: Iterable[str] | None = None,
    full: bool = False,
    rows_per_file: int = DEFAULT_ROWS_PER_FILE,
) -> dict[str, TableWrite]:
    """Bring the lake to raw's current rows, rewriting only the buckets the change log
    changed since the lake's last write (`full`: every table whole). `keys`: each table's
    primary key (default: the source contract's); `tables`: default every raw table (a
    table gone from raw loses its lake folder). {table: what was done}."""
    lake = Path(lake)
    (lake / RAW).mkdir(parents=True, exist_ok=True)
    results: dict[str, TableWrite] = {}
    with _connection(warehouse) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            present = raw_tables(con)
            wanted = present if tables is None else [t for t in tables if t in present]
            keys = dict(keys) if keys is not None else default_keys(wanted)
            through = None
            if _has_change_log(con):
                through = con.execute("select max(seq) from meta._changes").fetchone()[0]
            for table in wanted:
                key = list(keys.get(table) or [])
                result = _write_table(
                    con, lake, table, key, through, full=full, rows_per_file=rows_per_file
                )
                raw_rows = con.execute(f"select count(*) from {RAW}.{quote(table)}").fetchone()[0]
                if _lake_rows(con, lake, table) != raw_rows:
                    result = _write_table(
                        con, lake, table, key, through, full=True, rows_per_file=rows_per_file
                    )
                    result.mode, result.reason = "repaired", "row count differed from raw's"
                results[table] = result
        finally:
            con.execute("ROLLBACK")
    if tables is None:
        for folder in (lake / RAW).iterdir():
            if folder.is_dir() and folder.name not in results and (folder / MANIFEST).exists():
                shutil.rmtree(folder)
    return results


def export_full(
    warehouse: str | os.PathLike | duckdb.DuckDBPyConnection,
    lake: str | os.PathLike,
    **options,
) -> dict[str, TableWrite]:
    """Every raw table written whole (the first write, or a repair)."""
    return write(warehouse, lake, full=True, **options)


# -- checking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableCheck:
    table: str
    raw_rows: int
    lake_rows: int
    raw_hash: int | None
    lake_hash: int | None

    @property
    def equal(self) -> bool:
        return self.raw_rows == self.lake_rows and self.raw_hash == self.lake_hash


def _content(con: duckdb.DuckDBPyConnection, relation: str, cols: str) -> tuple[int, int | None]:
    count, total = con.execute(
        f"select count(*), sum(CAST(hash(t) AS HUGEINT)) from (select {cols} from {relation}) t"
    ).fetchone()
    return int(count), None if total is None else int(total)


def verify(
    warehouse: str | os.PathLike | duckdb.DuckDBPyConnection,
    lake: str | os.PathLike,
    tables: Iterable[str] | None = None,
) -> dict[str, TableCheck]:
    """Per raw table: row counts and a content hash (the sum of every row's hash, so a
    multiset's) of raw.T and of the lake's files."""
    checks = {}
    with _connection(warehouse) as con:
        present = raw_tables(con)
        for table in present if tables is None else tables:
            columns = raw_columns(con, table)
            cols = ", ".join(quote(c) for c in columns)
            raw_rows, raw_hash = _content(con, f"{RAW}.{quote(table)}", cols)
            files = data_files(lake, table)
            lake_rows, lake_hash = 0, None
            if files:
                listing = ", ".join(f"'{f}'" for f in files)
                try:
                    lake_rows, lake_hash = _content(con, f"read_parquet([{listing}])", cols)
                except duckdb.Error:
                    lake_rows, lake_hash = -1, None
            checks[table] = TableCheck(table, raw_rows, lake_rows, raw_hash, lake_hash)
    return checks
