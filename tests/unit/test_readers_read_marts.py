"""Readers read marts only (DESIGN.md): the dashboard's collector, the Parquet export, the
published copy's manifest and the loyalty analytics command name no warehouse schema but
`marts` (and the engine's own catalogs). Staging and intermediate models are the build's:
their columns change with the models (issue 13 moved every business date out of staging),
and staging holds personal data.

A static scan of every string literal in the readers' source (f-string parts included),
so a reader that reaches into staging fails here before any warehouse is built.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READERS = (
    sorted((ROOT / "pipelines" / "publish").rglob("*.py"))
    + sorted((ROOT / "pipelines" / "api").rglob("*.py"))  # the HTTP API (issue 18)
    + [ROOT / "pipelines" / "loyalty_analytics.py"]
)

#: Schemas a reader may name: the marts, and the engine's catalogs it looks them up in.
ALLOWED = {"marts", "information_schema", "pg_catalog"}
#: The build's own schemas (DESIGN.md: raw, staging, intermediate; dbt's default main).
BUILD_SCHEMAS = {"raw", "staging", "intermediate", "main"}

_IDENT = r'"?([A-Za-z_][A-Za-z0-9_]*)"?'
_BUILD = "|".join(sorted(BUILD_SCHEMAS))
#: `from|join <schema>.<relation>`, quoted or not (`{}`: an f-string's value).
_QUALIFIED = re.compile(rf"\b(?:from|join)\s+{_IDENT}\s*\.\s*(\"?[A-Za-z_{{][\w}}]*)", re.I)
#: `<build schema>.<name>` anywhere, or a build schema compared with a catalog column.
_BUILD_REFERENCE = re.compile(
    rf"(?<![\w.])\"?(?:{_BUILD})\"?\s*\.\s*\"?[A-Za-z_]\w*|schema(?:_name)?\s*=\s*'(?:{_BUILD})'",
    re.I,
)


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of the module (each f-string's literal parts joined with `{}`
    where a value goes), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
            )
            out.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
    return out


def offences(text: str) -> list[str]:
    """What in one string names a schema a reader may not read."""
    found = {
        f"reads {schema}.{relation}"
        for schema, relation in _QUALIFIED.findall(text)
        if schema.lower() not in ALLOWED
    }
    found |= {f"names {m.group(0)}" for m in _BUILD_REFERENCE.finditer(text)}
    if text.strip().lower() in BUILD_SCHEMAS:
        found.add(f"passes the schema name {text.strip()!r}")
    return sorted(found)


@pytest.mark.parametrize(
    "sql",
    [
        "select * from staging.stg_websites as websites",
        "select 1 from marts.fct_daily_snapshot inner join intermediate.int_orders_enriched o",
        'select * from "staging"."stg_orders"',
        "select * from raw.orders_order",
        "select count(*) from information_schema.tables where table_schema = 'staging'",
        "intermediate",
    ],
)
def test_the_scan_catches_a_reader_outside_the_marts(sql):
    assert offences(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "select * from marts.fct_daily_snapshot where business_date >= ?",
        'copy (select * from marts."{}") to \'{}\' (format parquet)',
        "select * from marts.loyalty_calculate(?, ?, website := ?) order by website",
        "select table_name from information_schema.tables where table_schema = ?",
        "select count(*) from duckdb_functions() where schema_name = 'marts'",
        "select * from win order by website_id",
    ],
)
def test_the_scan_lets_marts_and_catalogs_through(sql):
    assert offences(sql) == []


def test_readers_name_no_schema_but_marts():
    found, mart_reads = [], 0
    for path in READERS:
        for line, text in _strings(path):
            mart_reads += len(re.findall(r"\bmarts\s*\.", text))
            found += [f"{path.relative_to(ROOT)}:{line}: {o}" for o in offences(text)]
    assert mart_reads > 20, "the scan found no SQL: did the readers move?"
    assert found == []
