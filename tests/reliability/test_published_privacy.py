"""Nothing personal leaves the build file (issue 16, part 3; DESIGN.md's principles).

The build file holds raw copies of every customer's email, phone and name, and of their
health profiles; what is published (the DuckDB catalog, the Parquet files, the dashboard,
version.json) must hold none of it. The test publishes the shared small build as a run does
and looks for every personal value of the source in every published file, three ways:

- the raw bytes of every file (a value written as plain text anywhere: HTML, JSON, a
  Parquet statistic, an uncompressed DuckDB block);
- every string value of every column of every Parquet file, decoded (pages are compressed:
  a byte search alone finds nothing in them);
- every string of every table and view in published.duckdb (its blocks are compressed
  too), with the SQL of its views and macros.

The personal values are the source's (SOURCE_SCHEMA.md): each customer's email, phone,
first name, last name and full name, and each health profile's allergy text (but a first
name that is also a staff member's: staff names are published by design). Values shorter
than 5 characters are ignored ("Ayo", "Musa", "eggs", "soy": too short to identify anyone,
and they occur by chance in compressed bytes and in ordinary words); the daily calorie
target is a 4-digit number for the same reason. The search is case-insensitive and finds
a value inside a longer one (a name inside an email, a phone inside a sentence).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.publish.version import publish_version

#: Shorter values are not searched for (see the module's docstring).
MIN_CHARS = 5
#: Staff names (riders, nutritionists, support agents) are published by design (DESIGN.md's
#: rider, nutritionist and agent marts); one that is also a customer's first name ("Aisha",
#: "Emeka") is not searched for.
STAFF = (
    "select rider_name from delivery_delivery",
    "select nutritionist_name from nutrition_consultation",
    "select assigned_agent from support_ticket",
)


def personal_values(source: Path) -> set[str]:
    """Every personal value of the source (lower case, at least MIN_CHARS long)."""
    db = sqlite3.connect(source)
    try:
        values: set[str] = set()
        for email, phone, first, last in db.execute(
            "select email, phone, first_name, last_name from accounts_user"
        ):
            values |= {email, phone, first, last, f"{first} {last}"}
        values |= {a for (a,) in db.execute("select allergies from health_healthprofile")}
        staff = {name for sql in STAFF for (name,) in db.execute(sql) if name}
    finally:
        db.close()
    return {v.lower() for v in values - staff if v and len(v) >= MIN_CHARS}


class Finder:
    """Finds which of many values occur in a text, in one pass: candidates by their first
    MIN_CHARS characters (one regex of the distinct prefixes, overlapping matches), then
    each candidate compared in full."""

    def __init__(self, values: set[str]):
        self.by_prefix: dict[bytes, list[bytes]] = defaultdict(list)
        for value in values:
            encoded = value.encode()
            self.by_prefix[encoded[:MIN_CHARS]].append(encoded)
        prefixes = b"|".join(re.escape(p) for p in sorted(self.by_prefix))
        self.pattern = re.compile(b"(?=(" + prefixes + b"))")

    def find(self, data: bytes | str) -> set[str]:
        if isinstance(data, str):
            data = data.encode()
        data = data.lower()
        found = set()
        for match in self.pattern.finditer(data):
            start = match.start()
            found |= {
                v.decode() for v in self.by_prefix[match.group(1)] if data.startswith(v, start)
            }
        return found


def _parquet_strings(path: Path) -> list[str]:
    """Every distinct string value of every column of a Parquet file, decoded."""
    table = pq.read_table(path)
    out: set[str] = set()
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            out |= {v for v in column.unique().to_pylist() if v is not None}
    return sorted(out)


def _duckdb_strings(path: Path) -> dict[str, list[str]]:
    """{relation: its distinct strings} for every table and view of a DuckDB file (every
    schema), plus the SQL of its views and macros."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out: dict[str, list[str]] = {}
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where database_name = current_database() and not internal "
            "and data_type = 'VARCHAR' order by all"
        ).fetchall()
        for schema, table, column in columns:
            values = con.execute(
                f'select distinct "{column}" from "{schema}"."{table}" where "{column}" is not null'
            ).fetchall()
            out.setdefault(f"{schema}.{table}", []).extend(v for (v,) in values)
        out["(view and macro SQL)"] = [
            sql or ""
            for (sql,) in con.execute(
                "select sql from duckdb_views() where database_name = current_database() "
                "and not internal union all select macro_definition from duckdb_functions() "
                "where database_name = current_database() and not internal"
            ).fetchall()
        ]
        return out
    finally:
        con.close()


def published_files(folder: Path) -> list[Path]:
    """Every regular file under the publish folder (the versions; the reader paths are
    symlinks into them)."""
    return sorted(
        Path(root) / name
        for root, _, names in os.walk(folder)
        for name in names
        if not (Path(root) / name).is_symlink()
    )


def leaks(folder: Path, finder: Finder) -> dict[str, list[str]]:
    """{where: a few personal values found there} over every published file."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in published_files(folder):
        where = str(path.relative_to(folder))
        found[f"{where} (bytes)"] |= finder.find(path.read_bytes())
        if path.suffix == ".parquet":
            for value in _parquet_strings(path):
                found[f"{where} (values)"] |= finder.find(value)
        if path.suffix == ".duckdb":
            for relation, values in _duckdb_strings(path).items():
                for value in values:
                    found[f"{where}: {relation}"] |= finder.find(value)
    return {where: sorted(values)[:3] for where, values in found.items() if values}


@pytest.fixture(scope="module")
def published(built_warehouse, tmp_path_factory) -> Path:
    """The shared small build, published as a run publishes it."""
    base = tmp_path_factory.mktemp("privacy")
    build = base / "warehouse.duckdb"
    shutil.copy(built_warehouse, build)
    out = base / "out"
    publish_version(build, out)
    return out


@pytest.fixture(scope="module")
def finder(small_source_file) -> Finder:
    values = personal_values(small_source_file)
    assert len(values) > 300  # emails, phones and full names of 150 customers at least
    return Finder(values)


def test_the_search_finds_personal_data_where_it_is(built_warehouse, finder, tmp_path):
    """The search is not blind: it finds the build file's raw copies, and a value inside a
    compressed Parquet page that a byte search misses."""
    strings = _duckdb_strings(built_warehouse)
    assert finder.find(" ".join(strings["raw.accounts_user"]))
    email = "okello.mugisha2@example.com"  # a name the generator gives (searched: lower case)
    path = tmp_path / "one.parquet"
    notes = [f"note {i}" + (f": call {email.upper()}" if i == 500 else "") for i in range(1000)]
    pq.write_table(pa.table({"note": notes}), path, compression="zstd")
    plain = Finder({email})
    assert not plain.find(path.read_bytes())  # compressed: invisible to a byte search
    assert plain.find(" ".join(_parquet_strings(path))) == {email}


def test_no_personal_value_is_in_any_published_file(published, finder):
    files = published_files(published)
    kinds = {p.suffix for p in files}
    assert {".duckdb", ".parquet", ".html", ".json"} <= kinds, sorted(map(str, files))
    assert leaks(published, finder) == {}
