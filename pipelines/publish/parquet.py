"""Every mart as Parquet: what readers open as files, what the published DuckDB catalog's views
read (`pipelines.publish.warehouse`), and what Spark reads.

Layout, in a version's `parquet/` folder:

- `<mart>.parquet`: one file, for every mart of up to `PARTITION_ROWS` rows (all of the demo's
  marts), and for a larger mart without a `business_date` column;
- `<mart>/business_month=YYYY-MM/data_0.parquet`: a mart of more than `PARTITION_ROWS` rows
  with a `business_date` (DATE), one folder per calendar month of its business dates. This is
  Hive's layout, which both engines read natively: DuckDB's `read_parquet('<mart>/*/*.parquet',
  hive_partitioning = true)` and Spark's `spark.read.parquet('<mart>')` add `business_month`
  (a string) from the folder names. The files themselves hold exactly the mart's columns; a
  NULL business_date lands in Hive's `__HIVE_DEFAULT_PARTITION__`.

Only what changed is written. Every file (a mart, or a month of a partitioned mart) has a
fingerprint, computed in the build file in the same scan that counts its rows and sums its
money (`measure`): the row count, the exact sum (HUGEINT) of DuckDB's 64-bit `hash` of every
row, the mart's column names and types, and `FORMAT`. A sum does not depend on row order
(Parquet's or a scan's), and unlike an XOR it does not cancel equal rows (two copies of a
row XOR to nothing, so {A, A} → {B, B} would go unseen); a changed file keeps its count and
sum by chance with a probability near 2⁻⁶⁴. That is not a cryptographic guarantee, and need
not be: the rows are the project's own models, not an adversary's. A file whose fingerprint
equals the previous version's is hard-linked from it (the versions are immutable, so the two
names share one inode safely; a copy where a link is impossible, e.g. across filesystems),
every other one is written. version.json records, per file, its fingerprint and whether it
was written or linked.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines import duck
from pipelines.publish import leftovers
from pipelines.publish.data import MARTS, mart_tables

#: A mart with more rows than this (and a business_date) is written one folder per month.
PARTITION_ROWS = 1_000_000
PARTITION_COLUMN = "business_date"
PARTITION_KEY = "business_month"
#: Hive's folder name for a NULL partition value (Spark's and DuckDB's readers know it).
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: Part of every fingerprint: change it when the files' format or layout changes, and the
#: next publication writes every file again instead of linking the old ones.
FORMAT = "parquet zstd, duckdb copy, business_month folders/1"
#: The part name of a mart written as one file.
WHOLE = ""
#: The COPY options of every file.
COPY_OPTIONS = "format parquet, compression zstd"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str | os.PathLike) -> str:
    # A path cannot be a bound parameter of COPY; it is ours, quotes doubled.
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Part:
    """One file's worth of a mart: all of it, or one month of it."""

    rows: int
    hash_sum: int
    money: Decimal


@dataclass
class Mart:
    """A mart of the build file as measured for publishing."""

    name: str
    columns: list[tuple[str, str]]
    #: {month: Part} of a partitioned mart, {WHOLE: Part} of one written as one file.
    parts: dict[str, Part] = field(default_factory=dict)

    @property
    def partitioned(self) -> bool:
        return WHOLE not in self.parts

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts.values())

    @property
    def money(self) -> Decimal:
        return sum((p.money for p in self.parts.values()), Decimal(0))

    def path(self, part: str) -> str:
        """The file's (or month folder's) path in the `parquet/` folder."""
        if part == WHOLE:
            return f"{self.name}.parquet"
        return f"{self.name}/{PARTITION_KEY}={part}"

    def fingerprint(self, part: str) -> str:
        p = self.parts[part]
        text = json.dumps([FORMAT, self.columns, p.rows, str(p.hash_sum)])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def reader_glob(self, folder: Path) -> str:
        """What `read_parquet` reads for this mart under `folder`."""
        if self.partitioned:
            return str(folder / self.name / "*" / "*.parquet")
        return str(folder / f"{self.name}.parquet")


def _month_of(columns: list[tuple[str, str]]) -> str | None:
    """The month expression of a mart with a business_date, else None."""
    if (PARTITION_COLUMN, "DATE") not in columns:
        return None
    return (
        f"coalesce(strftime({_identifier(PARTITION_COLUMN)}, '%Y-%m'), '{NULL_PARTITION}')"
    )


def measure(con: duckdb.DuckDBPyConnection, name: str) -> Mart:
    """One scan of a mart: per month (if it has a business_date), its rows, the sum of its
    rows' hashes and of its money (DECIMAL) columns; one part if it is not partitioned."""
    columns = [
        (c, t)
        for c, t in con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = "
            "current_database() and schema_name = ? and table_name = ? order by column_index",
            [MARTS, name],
        ).fetchall()
    ]
    money = [c for c, t in columns if t.startswith("DECIMAL")]
    total = " + ".join(f"coalesce(sum({_identifier(c)}), 0)" for c in money) or "0"
    month = _month_of(columns) or f"'{WHOLE}'"
    rows = con.execute(
        f"select {month}, count(*), coalesce(sum(hash(t)), 0), {total} "
        f"from marts.{_identifier(name)} t group by 1"
    ).fetchall()
    parts = {key: Part(int(n), int(h), Decimal(m)) for key, n, h, m in rows}
    mart = Mart(name, columns, parts)
    if mart.rows <= PARTITION_ROWS or _month_of(columns) is None:
        mart.parts = {
            WHOLE: Part(
                mart.rows, sum(p.hash_sum for p in parts.values()), mart.money
            )
        }
    return mart


def measure_marts(con: duckdb.DuckDBPyConnection) -> list[Mart]:
    """Every mart of the connection's schema marts, measured."""
    return [measure(con, name) for name in mart_tables(con)]


def _link(source: Path, target: Path) -> str:
    """A hard link `target` to the file `source` ("linked"), or a copy where linking is
    impossible ("copied": another filesystem, a filesystem without hard links)."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copy2(source, target)
        return "copied"
    return "linked"


def _link_part(source: Path, target: Path) -> str:
    """Link a file, or every file of a month's folder, from the previous version."""
    if not source.is_dir():
        return _link(source, target)
    target.mkdir(mode=0o700, parents=True)
    done = {_link(child, target / child.name) for child in sorted(source.iterdir())}
    return "copied" if "copied" in done else "linked"


def _write(con: duckdb.DuckDBPyConnection, mart: Mart, parts: list[str], out: Path) -> None:
    """Write these parts of a mart from the build file."""
    relation = f"marts.{_identifier(mart.name)}"
    if not mart.partitioned:
        con.execute(
            f"copy (select * from {relation}) to {_literal(out / mart.path(WHOLE))} "
            f"({COPY_OPTIONS})"
        )
        return
    month = _month_of(mart.columns)
    wanted = ", ".join(_literal(p) for p in parts)
    con.execute(
        f"copy (select *, {month} as {PARTITION_KEY} from {relation} where {month} in "
        f"({wanted})) to {_literal(out / mart.name)} ({COPY_OPTIONS}, partition_by "
        f"({PARTITION_KEY}), filename_pattern 'data_{{i}}')"
    )


def write_mart(
    con: duckdb.DuckDBPyConnection,
    mart: Mart,
    out: Path,
    previous: Path | None = None,
    before: dict[str, dict] | None = None,
) -> dict[str, dict]:
    """Write a mart's files into `out` (a new version's `parquet/` folder), linking from
    `previous` (the previous version's) every file whose fingerprint `before` (its
    version.json's `parquet`) records unchanged; {path: {mart, rows, fingerprint, action}},
    action "written", "linked" or "copied" (unchanged, but no hard link was possible)."""
    before = before or {}
    report: dict[str, dict] = {}
    for part in mart.parts:
        path = mart.path(part)
        same = (before.get(path) or {}).get("fingerprint") == mart.fingerprint(part)
        source = previous / path if previous is not None else None
        linked = same and source is not None and source.exists()
        report[path] = {
            "mart": mart.name,
            "rows": mart.parts[part].rows,
            "fingerprint": mart.fingerprint(part),
            "action": "linked" if linked else "written",
        }
    written = [p for p in mart.parts if report[mart.path(p)]["action"] == "written"]
    if written:
        _write(con, mart, written, out)
    for part in mart.parts:
        record = report[mart.path(part)]
        if record["action"] == "linked":
            record["action"] = _link_part(previous / mart.path(part), out / mart.path(part))
    return report


def write_parquet(
    con: duckdb.DuckDBPyConnection,
    marts: list[Mart],
    out: Path,
    previous: Path | None = None,
    before: dict[str, dict] | None = None,
) -> dict[str, dict]:
    """Every mart's files into the empty folder `out`; {path: record} of them all."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    report: dict[str, dict] = {}
    for mart in marts:
        report.update(write_mart(con, mart, out, previous, before))
    return report


def replace_folder(new: Path, final: Path) -> None:
    """Rename `new` over `final`, a real folder: nothing can be renamed over a non-empty
    folder, so it moves aside first and is deleted after."""
    aside = final.with_name(f".{final.name}.old.{os.getpid()}.tmp")
    os.replace(final, aside)
    os.replace(new, final)
    shutil.rmtree(aside, ignore_errors=True)


def _replace(new: Path, final: Path) -> None:
    """Put `new` (a file or a folder) at `final`, replacing what is there."""
    if final.is_dir() and not final.is_symlink():
        replace_folder(new, final)
    else:
        if new.is_dir() and final.exists():
            final.unlink()
        os.replace(new, final)


def export_parquet(warehouse_path: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, int]:
    """Every mart of a warehouse (or catalog) file into `out_dir`, each file or month folder
    written beside its final name and renamed over it; rows per mart.

    Publishing does not call this (it writes a new version's folder, linking unchanged
    files: `write_parquet`); it is for a folder of one's own. The file is opened read-only.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    leftovers.sweep(out)
    staging = out / f".parquet.{os.getpid()}.tmp"
    con = duck.connect(warehouse_path, read_only=True)
    try:
        marts = measure_marts(con)
        write_parquet(con, marts, staging)
    finally:
        con.close()
    try:
        for mart in marts:
            name = mart.name if mart.partitioned else f"{mart.name}.parquet"
            _replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {mart.name: mart.rows for mart in marts}
