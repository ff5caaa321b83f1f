"""The change log `meta._changes`: each table's commit lists exactly what it changed in raw.

Known answers on real sources (the hand-made SQLite and PostgreSQL sources of
`extract_support`, and small SQLite tables made here): a first load is one 'all' per
table, a quiet rerun nothing; inserted, updated and deleted ids are exactly those the
source changed, each update and delete with raw's row before the change (every column
read back from the JSON with its own type: DECIMAL and timestamps exact); a change that
leaves `updated_at` and is repaired by the content check is an 'update'; text and
composite keys carry their JSON key; a refused or crashed table writes no change row; too
many keys, a new column or a keyless table's swap is one 'all'.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import duckdb
import pytest
import sqlalchemy as sa
from extract_support import TABLES, HandSource, _ts, assert_equal

from pipelines.extract import ExtractOptions, extract_all
from pipelines.extract import warehouse as wh
from pipelines.extract.changes import changes_through, prune_changes

UTC = dt.UTC
#: The key path alone (keys reconciled every run) on the `updated_at` cursor.
KEYS = ExtractOptions(
    delete_check_every=dt.timedelta(0), content_check_every=None, change_cursor="updated_at"
)
#: The library's default: content reconciliation every run.
CONTENT = ExtractOptions(change_cursor="updated_at")
#: PostgreSQL's default change stream, the rows' xmin (keys reconciled every run).
XMIN = ExtractOptions(delete_check_every=dt.timedelta(0), content_check_every=None)

#: What `HandSource.change()` does to the initial hand-made source, per (table, op).
CHANGED = {
    ("accounts_user", "update"): {4},
    ("accounts_user", "delete"): {30},
    ("orders_order", "insert"): set(range(121, 131)),
    ("orders_order", "update"): {2, 3, 5, 8},
    ("orders_order", "delete"): {6, 11},
    ("payments_payment", "insert"): {61, 62, 63, 64},
    ("payments_payment", "delete"): {6},  # order 11's payment
    ("payments_refund", "insert"): {13, 14, 15, 16},
    ("payments_refund", "delete"): {2},  # payment 6's refund
}


def changes(warehouse: str, after: int = 0) -> list[tuple]:
    """(seq, table, op, row_id, row_key, before) of the change log after seq `after`."""
    con = duckdb.connect(warehouse, read_only=True)
    try:
        return con.execute(
            "SELECT seq, table_name, op, row_id, row_key, CAST(before AS VARCHAR) "
            "FROM meta._changes WHERE seq > ? ORDER BY seq, table_name, op, row_id, row_key",
            [after],
        ).fetchall()
    finally:
        con.close()


def last_seq(warehouse: str) -> int:
    con = duckdb.connect(warehouse, read_only=True)
    try:
        return changes_through(con) or 0
    finally:
        con.close()


def by_op(rows: list[tuple]) -> dict[tuple[str, str], set]:
    out: dict[tuple[str, str], set] = {}
    for _, table, op, row_id, row_key, _ in rows:
        out.setdefault((table, op), set()).add(row_id if row_id is not None else row_key)
    return out


def raw_rows(warehouse: str, table: str) -> dict[int, dict]:
    """{id: {column: value}} of raw.<table> as DuckDB's Python client reads it."""
    con = duckdb.connect(warehouse, read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        cur = con.execute(f"SELECT * FROM raw.{table}")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    finally:
        con.close()


def before_rows(warehouse: str, table: str, after: int = 0) -> dict[int, dict]:
    """{row_id: the before image read back column by column, each CAST to raw's type from
    `json_extract_string`} of the table's updates and deletes after seq `after`."""
    con = duckdb.connect(warehouse, read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        cols = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'raw' "
            "AND table_name = ? ORDER BY column_index",
            [table],
        ).fetchall()
        values = ", ".join(
            f"CAST(json_extract_string(before, '$.\"{c}\"') AS {t})" for c, t in cols
        )
        found = con.execute(
            f"SELECT row_id, {values} FROM meta._changes WHERE table_name = ? AND seq > ? "
            "AND op IN ('update', 'delete')",
            [table, after],
        ).fetchall()
        names = [c for c, _ in cols]
        return {r[0]: dict(zip(names, r[1:], strict=True)) for r in found}
    finally:
        con.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def source(request, tmp_path) -> HandSource:
    url = (
        f"sqlite:///{tmp_path / 'src.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    src = HandSource(url)
    src.populate()
    yield src
    src.engine.dispose()


def _paths(dialect: str) -> list[ExtractOptions]:
    return [KEYS, CONTENT] + ([XMIN] if dialect == "postgresql" else [])


def test_first_load_is_one_all_per_table_and_a_quiet_rerun_nothing(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=CONTENT).ok
    first = changes(warehouse)
    assert [(t, op, rid, key, before) for _, t, op, rid, key, before in first] == [
        (t, "all", None, None, None) for t in sorted(TABLES)
    ]
    assert len({seq for seq, *_ in first}) == len(TABLES)  # one seq per table's commit
    for options in _paths(source.dialect):
        assert extract_all(source.url, warehouse, options=options).ok
    assert changes(warehouse) == first


@pytest.mark.parametrize("path", ["keys", "content", "xmin"])
def test_inserts_updates_and_deletes_are_exactly_the_changed_ids(source, tmp_path, path):
    if path == "xmin" and source.dialect != "postgresql":
        pytest.skip("the xmin cursor is PostgreSQL's")
    options = {"keys": KEYS, "content": CONTENT, "xmin": XMIN}[path]
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=options).ok
    seq = last_seq(warehouse)
    old = {t: raw_rows(warehouse, t) for t in ("orders_order", "accounts_user")}
    source.change()
    assert extract_all(source.url, warehouse, options=options).ok
    logged = changes(warehouse, seq)
    assert by_op(logged) == CHANGED
    # One seq per changed table's commit, above every earlier one.
    seqs = {}
    for s, table, *_ in logged:
        seqs.setdefault(table, set()).add(s)
    assert all(len(s) == 1 for s in seqs.values())
    assert len({min(s) for s in seqs.values()}) == len(seqs)
    for _, _, op, row_id, row_key, before in logged:
        assert row_key == f"[{row_id}]"
        assert (before is None) == (op == "insert")
    # The before images are raw's old rows, every column back with its own type.
    for table in ("orders_order", "accounts_user"):
        images = before_rows(warehouse, table, seq)
        assert images == {i: old[table][i] for i in images}
        assert set(images) == CHANGED[(table, "update")] | CHANGED[(table, "delete")]
    order_2, was = before_rows(warehouse, "orders_order", seq)[2], old["orders_order"][2]
    assert isinstance(was["total"], Decimal) and order_2["total"] == was["total"]  # exact
    assert isinstance(was["updated_at"], dt.datetime)
    assert order_2["updated_at"] == was["updated_at"]  # to the microsecond
    assert order_2["status"] == "delivered" and was["status"] == "delivered"
    assert_equal(source.url, warehouse)
    assert extract_all(source.url, warehouse, options=options).ok
    assert changes(warehouse, seq) == logged  # quiet: nothing more


def test_a_bulk_update_that_skips_updated_at_is_logged_by_the_content_repair(source, tmp_path):
    options = dataclasses.replace(CONTENT, lookback=dt.timedelta(0))
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=options).ok
    seq = last_seq(warehouse)
    with source.engine.begin() as conn:
        pending = {
            r[0]
            for r in conn.execute(sa.text("SELECT id FROM orders_order WHERE status = 'pending'"))
        }
        # queryset.update(): updated_at untouched, so the cursor does not see it.
        conn.execute(
            sa.text("UPDATE orders_order SET status = 'cancelled' WHERE status = 'pending'")
        )
    old = raw_rows(warehouse, "orders_order")
    report = extract_all(source.url, warehouse, options=options)
    assert report.results["orders_order"].rows_repaired == len(pending) > 0
    assert by_op(changes(warehouse, seq)) == {("orders_order", "update"): pending}
    images = before_rows(warehouse, "orders_order", seq)
    assert images == {i: old[i] for i in pending}
    assert {row["status"] for row in images.values()} == {"pending"}


# -- text and composite keys, every type in the before image ------------------------------------


def _keyed_source(tmp_path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'keyed.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE codes_code (code varchar(10) NOT NULL PRIMARY KEY, price decimal(12, 2),"
            " born date, pic blob, note text, updated_at datetime NOT NULL)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE stock_level (site_id bigint NOT NULL, sku varchar(20) NOT NULL, "
            "qty integer NOT NULL, updated_at datetime NOT NULL, PRIMARY KEY (site_id, sku))"
        )
        conn.exec_driver_sql("CREATE TABLE codes_tag (code varchar(10), tag varchar(10))")
        for i in range(20):
            conn.exec_driver_sql(
                "INSERT INTO codes_code VALUES (?, ?, ?, ?, ?, ?)",
                (f"C{i:02d}", f"{1000 + i}.05", f"2026-02-{i + 1:02d}", bytes([255, i, 0]),
                 None if i % 2 else f"n{i}", f"2026-03-01 08:{i:02d}:00.123456"),
            )  # fmt: skip
            conn.exec_driver_sql(
                "INSERT INTO stock_level VALUES (?, ?, ?, ?)",
                (i % 3, f"SKU{i}", i, f"2026-03-01 08:{i:02d}:00"),
            )
            conn.exec_driver_sql("INSERT INTO codes_tag VALUES (?, ?)", (f"C{i:02d}", "t"))
    return engine


def test_text_and_composite_keys_are_json_and_every_type_comes_back(tmp_path):
    engine = _keyed_source(tmp_path)
    url, warehouse = str(engine.url), str(tmp_path / "w.duckdb")
    assert extract_all(url, warehouse, options=CONTENT).ok
    seq = last_seq(warehouse)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE codes_code SET price = 1.10, updated_at = '2026-03-02 09:00:00' "
            "WHERE code IN ('C03', 'C04')"
        )
        conn.exec_driver_sql("DELETE FROM codes_code WHERE code = 'C07'")
        conn.exec_driver_sql(
            "INSERT INTO codes_code VALUES ('C99', 2.5, NULL, NULL, NULL, '2026-03-02 09:00:00')"
        )
        conn.exec_driver_sql(
            "UPDATE stock_level SET qty = 99, updated_at = '2026-03-02 09:00:00' "
            "WHERE site_id = 1 AND sku = 'SKU1'"
        )
        conn.exec_driver_sql("DELETE FROM stock_level WHERE site_id = 2 AND sku = 'SKU2'")
        conn.exec_driver_sql("INSERT INTO stock_level VALUES (2, 'SKU1', 7, '2026-03-02 09:00:00')")
    assert extract_all(url, warehouse, options=CONTENT).ok
    logged = changes(warehouse, seq)
    assert {(t, op, rid, key) for _, t, op, rid, key, _ in logged} == {
        ("codes_code", "update", None, '["C03"]'),
        ("codes_code", "update", None, '["C04"]'),
        ("codes_code", "delete", None, '["C07"]'),
        ("codes_code", "insert", None, '["C99"]'),
        ("stock_level", "update", None, '[1,"SKU1"]'),
        ("stock_level", "delete", None, '[2,"SKU2"]'),
        ("stock_level", "insert", None, '[2,"SKU1"]'),
    }
    con = duckdb.connect(warehouse, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    images = con.execute(
        "SELECT json_extract_string(row_key, '$[0]'), "
        "CAST(json_extract_string(before, '$.price') AS DECIMAL(12,2)), "
        "CAST(json_extract_string(before, '$.born') AS DATE), "
        "CAST(json_extract_string(before, '$.pic') AS BLOB), "
        "json_extract_string(before, '$.note'), "
        "CAST(json_extract_string(before, '$.updated_at') AS TIMESTAMPTZ) "
        "FROM meta._changes WHERE table_name = 'codes_code' AND seq > ? AND before IS NOT NULL "
        "ORDER BY 1",
        [seq],
    ).fetchall()
    con.close()
    at = dt.datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert images == [
        ("C03", Decimal("1003.05"), dt.date(2026, 2, 4), bytes([255, 3, 0]), None,
         at.replace(minute=3)),
        ("C04", Decimal("1004.05"), dt.date(2026, 2, 5), bytes([255, 4, 0]), "n4",
         at.replace(minute=4)),
        ("C07", Decimal("1007.05"), dt.date(2026, 2, 8), bytes([255, 7, 0]), None,
         at.replace(minute=7)),
    ]  # fmt: skip
    (before,) = [json.loads(b) for _, t, op, _, k, b in logged if op == "update" and "SKU1" in k]
    assert before == {"site_id": 1, "sku": "SKU1", "qty": 1, "updated_at": "2026-03-01 08:01:00+00"}


def test_a_keyless_table_swapped_with_other_rows_is_one_all(tmp_path):
    engine = _keyed_source(tmp_path)
    url, warehouse = str(engine.url), str(tmp_path / "w.duckdb")
    assert extract_all(url, warehouse, options=CONTENT).ok
    seq = last_seq(warehouse)
    assert extract_all(url, warehouse, options=CONTENT).ok
    assert changes(warehouse, seq) == []  # swapped, but the same rows: no change
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE codes_tag SET tag = 'u' WHERE code = 'C01'")
    assert extract_all(url, warehouse, options=CONTENT).ok
    assert [(t, op, key) for _, t, op, _, key, _ in changes(warehouse, seq)] == [
        ("codes_tag", "all", None)
    ]


# -- rollbacks ----------------------------------------------------------------------------------


def test_a_refused_mass_delete_writes_no_change_row(source, tmp_path):
    options = dataclasses.replace(CONTENT, mass_delete_min_rows=10)
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=options).ok
    seq = last_seq(warehouse)
    with source.engine.begin() as conn:
        conn.execute(sa.text("UPDATE orders_order SET status = 'x', updated_at = :t WHERE id < 5"),
                     {"t": _ts(source.tick(99_999), source.dialect)})  # fmt: skip
        conn.execute(sa.text("DELETE FROM payments_refund"))
        conn.execute(sa.text("DELETE FROM payments_payment WHERE id > 10"))
        conn.execute(sa.text("DELETE FROM orders_order WHERE id > 50 AND id % 2 = 0"))
    report = extract_all(source.url, warehouse, options=options)
    assert set(report.errors) == {"orders_order", "payments_payment", "payments_refund"}
    assert changes(warehouse, seq) == []


def test_a_crash_before_commit_writes_no_change_row(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=CONTENT).ok
    seq = last_seq(warehouse)
    source.change()

    def crash(con, run_id):
        raise RuntimeError("killed before COMMIT")

    report = extract_all(
        source.url, warehouse, options=dataclasses.replace(CONTENT, before_commit=crash)
    )
    assert set(report.errors) == set(TABLES)
    assert changes(warehouse, seq) == []
    assert extract_all(source.url, warehouse, options=CONTENT).ok
    assert by_op(changes(warehouse, seq)) == CHANGED


# -- 'all' instead of keys ----------------------------------------------------------------------


def _touch_orders(source: HandSource, ids) -> None:
    with source.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE orders_order SET channel = 'app', updated_at = :t WHERE id = :i"),
            [{"t": _ts(source.tick(), source.dialect), "i": i} for i in ids],
        )


def test_more_changed_keys_than_the_threshold_is_one_all(source, tmp_path):
    # 120 orders: at most 20 % (24) and at least 10 keys are listed one by one.
    options = dataclasses.replace(CONTENT, change_log_min_rows=10)
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=options).ok
    seq = last_seq(warehouse)
    _touch_orders(source, range(1, 25))  # 24 of 120: listed
    assert extract_all(source.url, warehouse, options=options).ok
    assert by_op(changes(warehouse, seq)) == {("orders_order", "update"): set(range(1, 25))}
    seq = last_seq(warehouse)
    _touch_orders(source, range(1, 26))  # 25 of 120: more than 20 %
    assert extract_all(source.url, warehouse, options=options).ok
    assert [(t, op, rid) for _, t, op, rid, _, _ in changes(warehouse, seq)] == [
        ("orders_order", "all", None)
    ]
    seq = last_seq(warehouse)
    # Below the row minimum (the default 10,000), any share is listed.
    _touch_orders(source, range(1, 121))
    assert extract_all(source.url, warehouse, options=CONTENT).ok
    assert by_op(changes(warehouse, seq)) == {("orders_order", "update"): set(range(1, 121))}


def test_a_new_column_is_one_all_then_quiet(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=CONTENT).ok
    seq = last_seq(warehouse)
    with source.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE menu_meal ADD COLUMN spicy integer"))
        conn.execute(sa.text("UPDATE menu_meal SET spicy = 1 WHERE id = 2"))
    report = extract_all(source.url, warehouse, options=CONTENT)
    assert report.results["menu_meal"].columns_added == ("spicy",)
    assert [(t, op) for _, t, op, *_ in changes(warehouse, seq)] == [("menu_meal", "all")]
    seq = last_seq(warehouse)
    assert extract_all(source.url, warehouse, options=CONTENT).ok
    assert changes(warehouse, seq) == []


# -- the table itself ---------------------------------------------------------------------------


def test_an_older_warehouse_gets_the_change_log_and_it_prunes(source, tmp_path):
    warehouse = str(tmp_path / "w.duckdb")
    assert extract_all(source.url, warehouse, options=CONTENT).ok
    con = duckdb.connect(warehouse)  # as a warehouse made before the change log
    con.execute("DROP TABLE meta._changes")
    con.execute("DROP SEQUENCE meta._change_seq")
    con.close()
    source.change()
    assert extract_all(source.url, warehouse, options=CONTENT).ok
    assert by_op(changes(warehouse)) == CHANGED
    con = wh.connect(warehouse)
    try:
        per_seq = dict(
            con.execute(
                "SELECT seq, count(*) FROM meta._changes GROUP BY seq ORDER BY seq"
            ).fetchall()
        )
        seqs = sorted(per_seq)
        assert changes_through(con) == seqs[-1]
        assert prune_changes(con, seqs[0]) == per_seq[seqs[0]]
        assert changes_through(con) == seqs[-1]
        assert prune_changes(con, seqs[-1]) == sum(per_seq.values()) - per_seq[seqs[0]]
        assert changes_through(con) is None
    finally:
        con.close()


@pytest.mark.postgres
def test_xmin_logs_updates_that_leave_updated_at(postgres_url, tmp_path):
    source = HandSource(postgres_url)
    source.populate()
    try:
        warehouse = str(tmp_path / "w.duckdb")
        assert extract_all(source.url, warehouse, options=XMIN).ok
        seq = last_seq(warehouse)
        old = raw_rows(warehouse, "payments_payment")
        with source.engine.begin() as conn:  # bulk_update(): updated_at untouched
            conn.execute(sa.text("UPDATE payments_payment SET status = 'refunded' WHERE id < 4"))
        report = extract_all(source.url, warehouse, options=XMIN)
        assert report.results["payments_payment"].rows_updated == 3
        assert by_op(changes(warehouse, seq)) == {("payments_payment", "update"): {1, 2, 3}}
        assert before_rows(warehouse, "payments_payment", seq) == {i: old[i] for i in (1, 2, 3)}
    finally:
        source.engine.dispose()


def test_null_key_rows_moved_out_of_raw_are_deletes(tmp_path):
    """Rows with a NULL key an older version copied into raw leave it for
    `meta._rejected_rows` on the next complete key listing: deleted from raw, so logged."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'nulls.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))")
        conn.exec_driver_sql("INSERT INTO pairs VALUES ('a', 1, 'one'), ('b', 2, 'two')")
    url, warehouse = str(engine.url), str(tmp_path / "w.duckdb")
    engine.dispose()
    assert extract_all(url, warehouse, options=KEYS).ok
    con = duckdb.connect(warehouse)  # as the old path left it
    con.execute("INSERT INTO raw.pairs VALUES ('a', NULL, 'half')")
    con.close()
    seq = last_seq(warehouse)
    assert extract_all(url, warehouse, options=KEYS).ok
    assert [
        (t, op, rid, key, json.loads(b)) for _, t, op, rid, key, b in changes(warehouse, seq)
    ] == [("pairs", "delete", None, '["a",null]', {"a": "a", "b": None, "v": "half"})]
