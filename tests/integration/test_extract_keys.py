"""Text and composite primary keys get the integer keys' repair paths; NULL keys are refused.

Each source (SQLite and PostgreSQL) has four keyed tables beside the integer ones:
a text key and a composite key, each with and without `updated_at` (merge or replace
mode). After the first copy the source gets, per table, an update, a delete and a late
row: one committed with an `updated_at` 3 hours below the watermark, which the cursor's
lookback (1 hour) cannot see. After the incremental run raw equals the source, row for
row, and the audit trail holds exactly the real deletes.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import duckdb
import pytest
import sqlalchemy as sa

from pipelines.defs.raw.quality import build_quality_checks, find_violations, plan_checks
from pipelines.extract import ExtractOptions, Source, extract_all

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
#: The key path alone (no content reconciliation), reconciling keys every run: a delete
#: and a late row leave the row count equal, which the per-run probe cannot tell on
#: SQLite (the cadence, or content reconciliation, does). On PostgreSQL the updated_at
#: cursor, as on a source that allows no xmin.
EVERY_RUN = ExtractOptions(
    delete_check_every=dt.timedelta(0), content_check_every=None, change_cursor="updated_at"
)
#: PostgreSQL's default change stream: the rows' xmin, keys reconciled every run.
XMIN = ExtractOptions(delete_check_every=dt.timedelta(0), content_check_every=None)
#: The key path alone, keys reconciled when the probe or the weekly cadence says so.
PROBED = ExtractOptions(content_check_every=None)
#: The library's default: content reconciliation every run (`pipelines.extract.content`).
CONTENT = ExtractOptions()

DDL = [
    "CREATE TABLE codes_code (code varchar(10) NOT NULL PRIMARY KEY, label varchar(50) "
    "NOT NULL, price {money} NOT NULL, updated_at {ts} NOT NULL)",
    "CREATE TABLE stock_level (site_id bigint NOT NULL, sku varchar(20) NOT NULL, qty integer "
    "NOT NULL, updated_at {ts} NOT NULL, PRIMARY KEY (site_id, sku))",
    "CREATE TABLE codes_alias (alias varchar(10) NOT NULL PRIMARY KEY, code varchar(10) NOT NULL)",
    "CREATE TABLE stock_tag (site_id bigint NOT NULL, sku varchar(20) NOT NULL, "
    "tag varchar(20) NOT NULL, PRIMARY KEY (site_id, sku))",
]
TABLES = {
    "codes_code": ("code",),
    "stock_level": ("site_id", "sku"),
    "codes_alias": ("alias",),
    "stock_tag": ("site_id", "sku"),
}


class KeyedSource:
    """The four tables on SQLite (Django's text timestamps) or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        self.sqlite = self.engine.dialect.name == "sqlite"
        types = (
            {"money": "decimal", "ts": "datetime"}
            if self.sqlite
            else {"money": "numeric(12,2)", "ts": "timestamptz"}
        )
        with self.engine.begin() as conn:
            for ddl in DDL:
                conn.exec_driver_sql(ddl.format(**types))

    def ts(self, value: dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value

    def money(self, value: Decimal):
        return str(value) if self.sqlite else value  # Django hands SQLite a Decimal's text

    def run(self, sql: str, **params) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)

    def populate(self) -> None:
        for i in range(40):
            t = self.ts(T0 + dt.timedelta(minutes=i))
            self.run(
                "INSERT INTO codes_code VALUES (:c, :l, :p, :t)",
                c=f"C{i:03d}",
                l=f"label {i}",
                p=self.money(Decimal(1000 + i) + Decimal("0.25")),
                t=t,
            )
            self.run(
                "INSERT INTO stock_level VALUES (:s, :k, :q, :t)", s=i % 3, k=f"SKU{i}", q=i, t=t
            )
            self.run("INSERT INTO codes_alias VALUES (:a, :c)", a=f"A{i:03d}", c=f"C{i:03d}")
            self.run("INSERT INTO stock_tag VALUES (:s, :k, :g)", s=i % 3, k=f"SKU{i}", g=f"t{i}")

    def change(self) -> None:
        """Per table an update, a delete and a late row (3 h below the watermark)."""
        high = T0 + dt.timedelta(minutes=39)
        now, late = self.ts(high + dt.timedelta(minutes=5)), self.ts(high - dt.timedelta(hours=3))
        self.run(
            "UPDATE codes_code SET label = 'renamed', updated_at = :t WHERE code = 'C005'", t=now
        )
        self.run("DELETE FROM codes_code WHERE code = 'C007'")
        self.run("INSERT INTO codes_code VALUES ('B-late', 'late', 3.50, :t)", t=late)
        self.run(
            "UPDATE stock_level SET qty = 99, updated_at = :t WHERE site_id = 1 AND sku = 'SKU1'",
            t=now,
        )
        self.run("DELETE FROM stock_level WHERE site_id = 2 AND sku = 'SKU2'")
        self.run("INSERT INTO stock_level VALUES (2, 'SKU1', 7, :t)", t=late)  # a new pair
        self.run("UPDATE codes_alias SET code = 'C009' WHERE alias = 'A001'")
        self.run("DELETE FROM codes_alias WHERE alias = 'A002'")
        self.run("INSERT INTO codes_alias VALUES ('A-new', 'C001')")
        self.run("UPDATE stock_tag SET tag = 'moved' WHERE site_id = 0 AND sku = 'SKU0'")
        self.run("DELETE FROM stock_tag WHERE site_id = 0 AND sku = 'SKU3'")
        self.run("INSERT INTO stock_tag VALUES (1, 'SKU0', 'new')")

    def rows(self, table: str) -> list[tuple]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}").fetchall()
        return sorted(tuple(_norm(v) for v in r) for r in rows)


def _norm(value):
    """A value as both sides compare it: timestamps as UTC instants, money as Decimal."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def raw_rows(warehouse: str, table: str) -> list[tuple]:
    con = duckdb.connect(warehouse, read_only=True)
    try:
        rows = con.execute(f"SELECT * FROM raw.{table}").fetchall()
    finally:
        con.close()
    return sorted(tuple(_norm(v) for v in r) for r in rows)


def audit(warehouse: str) -> list[tuple]:
    con = duckdb.connect(warehouse, read_only=True)
    try:
        return con.execute(
            "SELECT table_name, row_id, row_key FROM meta._deleted_rows ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def _late_update_delete(
    source: KeyedSource, warehouse: str, reader: str = "auto", path: str = "keys"
) -> None:
    src = Source(source.url, reader=reader)
    options = {"keys": EVERY_RUN, "content": CONTENT, "xmin": XMIN}[path]
    first = extract_all(src, warehouse, tables=list(TABLES))
    assert first.ok, first.errors
    assert {t: first.results[t].mode for t in TABLES} == {
        "codes_code": "merge",
        "stock_level": "merge",
        "codes_alias": "replace",
        "stock_tag": "replace",
    }
    source.change()
    report = extract_all(src, warehouse, tables=list(TABLES), options=options)
    assert report.ok, report.errors
    if path == "keys":
        assert report.results["codes_code"].rows_backfilled == 1
        assert report.results["stock_level"].rows_backfilled == 1
    if path == "xmin":
        # The late rows are newer transactions: xmin reads them, nothing is backfilled.
        assert report.results["codes_code"].rows_backfilled == 0
        assert report.results["stock_level"].rows_backfilled == 0
        assert report.results["codes_code"].xid_watermark is not None
    for table in TABLES:
        assert raw_rows(warehouse, table) == source.rows(table), table
    assert audit(warehouse) == [
        ("codes_alias", None, "A002"),
        ("codes_code", None, "C007"),
        ("stock_level", None, "2|SKU2"),
        ("stock_tag", None, "0|SKU3"),
    ]
    quiet = extract_all(src, warehouse, tables=list(TABLES), options=options)
    assert {
        t: (r.rows_inserted, r.rows_updated, r.rows_deleted) for t, r in quiet.results.items()
    } == {t: (0, 0, 0) for t in TABLES}
    assert len(audit(warehouse)) == 4


@pytest.mark.parametrize(
    ("reader", "path"), [("adbc", "keys"), ("sqlalchemy", "keys"), ("adbc", "content")]
)
def test_sqlite_text_and_composite_keys_get_late_rows_updates_and_deletes(tmp_path, reader, path):
    source = KeyedSource(f"sqlite:///{tmp_path / 'keys.db'}")
    source.populate()
    _late_update_delete(source, str(tmp_path / "w.duckdb"), reader, path)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("reader", "path"),
    [("adbc", "keys"), ("sqlalchemy", "keys"), ("adbc", "content"), ("adbc", "xmin")],
)
def test_postgres_text_and_composite_keys_get_late_rows_updates_and_deletes(
    postgres_url, tmp_path, reader, path
):
    source = KeyedSource(postgres_url)
    source.populate()
    try:
        _late_update_delete(source, str(tmp_path / "w.duckdb"), reader, path)
    finally:
        source.engine.dispose()


def test_the_probe_finds_a_late_row_of_a_text_key(tmp_path):
    """No cadence due: the late row alone moves the count, the probe reconciles."""
    source = KeyedSource(f"sqlite:///{tmp_path / 'keys.db'}")
    source.populate()
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, tables=["codes_code", "stock_level"]).ok
    late = source.ts(T0 - dt.timedelta(hours=3))
    source.run("INSERT INTO codes_code VALUES ('A-late', 'late', 1.10, :t)", t=late)
    source.run("INSERT INTO stock_level VALUES (9, 'late', 1, :t)", t=late)
    report = extract_all(
        source.url, warehouse, tables=["codes_code", "stock_level"], options=PROBED
    )
    for table in ("codes_code", "stock_level"):
        result = report.results[table]
        assert result.delete_check_reason.startswith("probe: source has")
        assert (result.rows_backfilled, result.rows_deleted) == (1, 0)
        assert raw_rows(warehouse, table) == source.rows(table)


@pytest.fixture
def nullable_keys(tmp_path) -> KeyedSource:
    """SQLite lets a key that is not the rowid hold NULL when not declared NOT NULL."""
    path = tmp_path / "nulls.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT, updated_at DATETIME)"
        )
        conn.exec_driver_sql("CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))")
        conn.exec_driver_sql(
            "INSERT INTO tags VALUES ('x', 'X', '2026-01-01 08:00:00'), "
            "(NULL, 'nameless', '2026-01-01 08:00:00'), ('y', 'Y', '2026-01-01 08:00:01')"
        )
        conn.exec_driver_sql(
            "INSERT INTO pairs VALUES ('a', 1, 'one'), ('a', NULL, 'half'), ('b', 2, 'two')"
        )
    engine.dispose()
    return path


@pytest.mark.parametrize("path", ["keys", "content"])
def test_null_keys_are_refused_kept_once_named_and_resolved(nullable_keys, tmp_path, path):
    url = f"sqlite:///{nullable_keys}"
    warehouse = str(tmp_path / "w.duckdb")
    for _ in range(3):  # first copy, then reruns: nothing duplicated, nothing "deleted"
        report = extract_all(url, warehouse, options=EVERY_RUN if path == "keys" else CONTENT)
        assert report.ok, report.errors
        assert {t: r.row_count for t, r in report.results.items()} == {"tags": 2, "pairs": 2}
    assert raw_rows(warehouse, "tags") == [
        ("x", "X", dt.datetime(2026, 1, 1, 8, tzinfo=UTC)),
        ("y", "Y", dt.datetime(2026, 1, 1, 8, 0, 1, tzinfo=UTC)),
    ]
    assert raw_rows(warehouse, "pairs") == [("a", 1, "one"), ("b", 2, "two")]
    assert audit(warehouse) == []
    con = duckdb.connect(warehouse, read_only=True)
    refused = con.execute(
        "SELECT table_name, row_json, rule, first_seen_run_id IS NOT NULL, resolved_at "
        "FROM meta._rejected_rows ORDER BY ALL"
    ).fetchall()
    con.close()
    assert [(t, json.loads(r), rule, seen, res) for t, r, rule, seen, res in refused] == [
        ("pairs", {"a": "a", "b": None, "v": "half"}, "null_primary_key", True, None),
        (
            "tags",
            {"code": None, "label": "nameless", "updated_at": "2026-01-01 08:00:00+00:00"},
            "null_primary_key",
            True,
            None,
        ),
    ]
    keys = {"tags": ("code",), "pairs": ("a", "b")}
    named = [(v.table, v.rule, v.check) for v in find_violations(warehouse, keys=keys)]
    assert named == [
        ("pairs", "null_primary_key", "keys_not_null"),
        ("tags", "null_primary_key", "keys_not_null"),
    ]
    if path == "content":
        return  # resolution needs a complete key listing: the key path's (below)
    # Fixed in the source: the next complete key listing resolves the records.
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE tags SET code = 'z' WHERE code IS NULL")
        conn.exec_driver_sql("DELETE FROM pairs WHERE b IS NULL")
    engine.dispose()
    report = extract_all(url, warehouse, options=EVERY_RUN)
    assert report.results["tags"].rows_inserted == 1  # read again in the lookback
    assert raw_rows(warehouse, "tags")[-1] == ("z", "nameless", T0)
    assert find_violations(warehouse, keys=keys) == []
    assert audit(warehouse) == []


def test_the_keys_not_null_check_is_defined_for_text_and_composite_keys(nullable_keys):
    plans = {p.name: p for p in Source(f"sqlite:///{nullable_keys}").plans()}
    # Text columns also get `valid_text` (text that is not UTF-8: test_guards).
    texts = {t for t, p in plans.items() if any(c.kind == "text" for c in p.columns)}
    for table in ("tags", "pairs"):
        expected = ["valid_text"] * (table in texts) + ["keys_not_null"]
        assert plan_checks(plans[table]) == expected
    (checks,) = build_quality_checks(plans.values())
    names = {(k.asset_key.path[-1], k.name) for k in checks.check_keys}
    assert names == {("tags", "keys_not_null"), ("pairs", "keys_not_null")} | {
        (t, "valid_text") for t in texts
    }
    assert "tags" in texts


def test_the_dagster_check_names_the_refused_row(nullable_keys, tmp_path):
    import dagster as dg

    from pipelines.defs.raw import build_raw_defs
    from pipelines.defs.resources import SourceDatabase, Warehouse

    url = f"sqlite:///{nullable_keys}"
    warehouse = str(tmp_path / "w.duckdb")
    resources = {"source": SourceDatabase(url=url), "warehouse": Warehouse(path=warehouse)}
    defs = build_raw_defs(url, resources=resources)
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.is_node_success("raw_tables")
    evals = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    check = evals[("pairs", "keys_not_null")]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    (named,) = check.metadata["offending_keys"].value
    assert (named["table"], named["rule"]) == ("pairs", "null_primary_key")
    assert json.loads(named["key"]) == {"a": "a", "b": None, "v": "half"}


def test_null_key_rows_an_older_version_copied_are_moved_not_audited(nullable_keys, tmp_path):
    url = f"sqlite:///{nullable_keys}"
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(url, warehouse).ok
    con = duckdb.connect(warehouse)  # as the old path left it: the row in raw, twice
    con.execute("DROP TABLE meta._rejected_rows")
    for _ in range(2):
        con.execute("INSERT INTO raw.tags VALUES (NULL, 'nameless', '2026-01-01 08:00:00+00')")
        con.execute("INSERT INTO raw.pairs VALUES ('a', NULL, 'half')")
    con.close()
    report = extract_all(url, warehouse, options=EVERY_RUN)
    assert report.ok, report.errors
    assert {t: (r.rows_deleted, r.row_count) for t, r in report.results.items()} == {
        "tags": (0, 2),
        "pairs": (0, 2),
    }
    assert audit(warehouse) == []
    con = duckdb.connect(warehouse, read_only=True)
    moved = con.execute(
        "SELECT table_name, count(*) FROM meta._rejected_rows WHERE resolved_at IS NULL "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    con.close()
    assert [t for t, _ in moved] == ["pairs", "tags"]
