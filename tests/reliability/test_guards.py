"""Guards of the extraction (issue 15, items 2 and 3): what a run refuses, and what it keeps.

- **Mass deletion**: a run that would delete more than `max_delete_share` (10 %) of a table
  of at least `mass_delete_min_rows` (1,000) rows, or empty a non-empty table, is refused
  for that table (rolled back: raw, its audit trail and its sync state untouched) unless
  confirmed for the run (`confirm_deletes`, `mealytics run --confirm-deletes`). Every
  path that deletes passes the guard: key reconciliation, content reconciliation, a full
  copy's stage, a keyless table's swap.
- **The contract**: a contract column or table the source had and now lacks fails its
  table by name (the frozen copy never feeds a mart); a non-contract column may go.
- **Bad values**: text that is not UTF-8 (SQLite, a SQL_ASCII PostgreSQL database) and a
  BLOB or bytea column never stop a table: the text is NULL in raw, its bytes kept in the
  bookkeeping's rejected values, the row loads; the bytes are copied as they are.

One small generated source (the suite's `small_source_file`), copied per test; the bad
values on PostgreSQL use the same source generated into a database of their own on the
tests' server (`pg_source`), in the encoding the case needs, through every reader.
"""

from __future__ import annotations

import itertools
import os
import sqlite3

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa

import seeds
from models.schema import metadata
from pipelines.defs.raw import build_raw_defs, raw_run_config
from pipelines.defs.resources import SourceDatabase, Warehouse
from pipelines.errors import ContractBrokenError, MassDeleteError
from pipelines.extract import ExtractOptions, Source, extract_all
from pipelines.extract import warehouse as wh

#: The three ways the library reconciles an incremental run, and a full copy.
PATHS = {
    "content": ExtractOptions(),
    "keys": ExtractOptions(content_check_every=None, delete_check_every=None),
    "full_refresh": ExtractOptions(full_refresh=True, content_check_every=None),
}
META = f"{wh.META}"


def _q(warehouse, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _raw_counts(warehouse) -> dict[str, int]:
    tables = [t for t in metadata.tables if _q(warehouse, _EXISTS, [t])[0][0]]
    return {t: _q(warehouse, f'SELECT count(*) FROM raw."{t}"')[0][0] for t in tables}


_EXISTS = "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = ?"


def _empty_copy_of_schema(path) -> str:
    """A new SQLite database with the contract's tables and no row: a wrong source URL."""
    engine = sa.create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()
    return f"sqlite:///{path}"


def _state(warehouse) -> list[tuple]:
    return _q(
        warehouse,
        f"SELECT table_name, watermark_ts, watermark_id, row_count FROM {META}._sync_state "
        "ORDER BY 1",
    )


@pytest.mark.parametrize("path", list(PATHS))
def test_an_empty_source_is_refused_for_every_table(path, small_source_file, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    assert extract_all(f"sqlite:///{small_source_file}", warehouse).ok
    before, state = _raw_counts(warehouse), _state(warehouse)
    assert sum(before.values()) > 1000
    empty = _empty_copy_of_schema(tmp_path / "empty.db")

    report = extract_all(empty, warehouse, options=PATHS[path])

    non_empty = {t for t, n in before.items() if n}
    assert set(report.errors) == non_empty
    err = report.errors["orders_order"]
    assert isinstance(err, MassDeleteError)
    n = before["orders_order"]
    assert f"{n:,} of {n:,} rows" in str(err) and "100.0 %" in str(err)
    assert "--confirm-deletes orders_order" in str(err)
    assert _raw_counts(warehouse) == before
    assert _state(warehouse) == state
    assert _q(warehouse, f"SELECT count(*) FROM {META}._deleted_rows") == [(0,)]

    confirmed = extract_all(
        empty,
        warehouse,
        options=ExtractOptions(**{**_fields(PATHS[path]), "confirm_deletes": ("all",)}),
    )
    assert confirmed.ok, confirmed.errors
    assert set(_raw_counts(warehouse).values()) == {0}
    keyed = sum(before.values())
    assert _q(warehouse, f"SELECT count(*) FROM {META}._deleted_rows") == [(keyed,)]


def _fields(options: ExtractOptions) -> dict:
    return {
        f: getattr(options, f)
        for f in ("full_refresh", "content_check_every", "delete_check_every")
    }


def _big_tables(path, rows: int = 1200) -> None:
    """A keyed ledger and a keyless log of `rows` rows, outside the contract."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE shop_ledger (id INTEGER PRIMARY KEY, note TEXT)")
    db.execute("CREATE TABLE shop_log (line TEXT, at TEXT)")
    db.executemany(
        "INSERT INTO shop_ledger VALUES (?, ?)", [(i, f"n{i}") for i in range(1, rows + 1)]
    )
    db.executemany("INSERT INTO shop_log VALUES (?, ?)", [(f"l{i}", "x") for i in range(rows)])
    db.commit()
    db.close()


def _delete(path, sql: str) -> None:
    db = sqlite3.connect(path)
    db.execute(sql)
    db.commit()
    db.close()


@pytest.mark.parametrize("path", ["content", "keys"])
def test_more_than_a_tenth_of_a_large_table_is_refused_unless_confirmed(
    path, source_copy, tmp_path
):
    _big_tables(source_copy)
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    tables = ["shop_ledger", "shop_log"]
    assert extract_all(url, warehouse, tables=tables).ok
    _delete(source_copy, "DELETE FROM shop_ledger WHERE id <= 150")  # 12.5 %
    _delete(source_copy, "DELETE FROM shop_log WHERE rowid <= 150")

    report = extract_all(url, warehouse, tables=tables, options=PATHS[path])
    assert set(report.errors) == {"shop_ledger", "shop_log"}
    message = str(report.errors["shop_ledger"])
    assert "raw.shop_ledger" in message and "150 of 1,200 rows" in message
    assert "12.5 %" in message and "10 %" in message
    assert "--confirm-deletes shop_ledger" in message and "MEALYTICS_MAX_DELETE_SHARE" in message
    assert _q(warehouse, "SELECT count(*) FROM raw.shop_ledger") == [(1200,)]
    assert _q(warehouse, "SELECT count(*) FROM raw.shop_log") == [(1200,)]

    # A share of 20 % lets 12.5 % through; a confirmation names the table.
    wider = ExtractOptions(**{**_fields(PATHS[path]), "max_delete_share": 0.2})
    assert extract_all(url, warehouse, tables=["shop_ledger"], options=wider).ok
    assert _q(warehouse, "SELECT count(*) FROM raw.shop_ledger") == [(1050,)]
    assert _q(
        warehouse, f"SELECT min(row_id), max(row_id), count(*) FROM {META}._deleted_rows"
    ) == [(1, 150, 150)]
    named = ExtractOptions(**{**_fields(PATHS[path]), "confirm_deletes": ("shop_log",)})
    assert extract_all(url, warehouse, tables=["shop_log"], options=named).ok
    assert _q(warehouse, "SELECT count(*) FROM raw.shop_log") == [(1050,)]

    # Under the share, no confirmation needed: 100 of 1,050 is 9.5 %.
    _delete(source_copy, "DELETE FROM shop_ledger WHERE id <= 250")
    assert extract_all(url, warehouse, tables=["shop_ledger"], options=PATHS[path]).ok
    assert _q(warehouse, "SELECT count(*) FROM raw.shop_ledger") == [(950,)]


def test_a_small_table_may_lose_most_rows_but_not_go_empty(source_copy, tmp_path):
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    assert extract_all(url, warehouse, tables=["payments_refund", "vip_vipupgrade"]).ok
    _delete(
        source_copy, "DELETE FROM payments_refund WHERE id > (SELECT min(id) FROM payments_refund)"
    )
    _delete(source_copy, "DELETE FROM vip_vipupgrade")
    report = extract_all(url, warehouse, tables=["payments_refund", "vip_vipupgrade"])
    assert set(report.errors) == {"vip_vipupgrade"}
    assert "6 of 6 rows" in str(report.errors["vip_vipupgrade"])
    assert _q(warehouse, "SELECT count(*) FROM raw.payments_refund") == [(1,)]
    assert _q(warehouse, "SELECT count(*) FROM raw.vip_vipupgrade") == [(6,)]


def _materialize(url, warehouse, **config):
    resources = {"source": SourceDatabase(url=url), "warehouse": Warehouse(path=str(warehouse))}
    defs = build_raw_defs(url, resources=resources)
    return dg.materialize(
        list(defs.assets),
        resources=resources,
        run_config=raw_run_config(**config),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _evaluations(result, check: str) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        e.asset_key.path[-1]: e
        for e in result.get_asset_check_evaluations()
        if e.check_name == check
    }


def test_the_raw_asset_names_the_refusal_in_an_error_check(source_copy, tmp_path):
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    assert _materialize(url, warehouse).success
    _delete(source_copy, "DELETE FROM vip_vipupgrade")
    result = _materialize(url, warehouse)
    assert not result.success
    guard = _evaluations(result, "mass_delete_guard")
    refused = guard["vip_vipupgrade"]
    assert not refused.passed and refused.severity == dg.AssetCheckSeverity.ERROR
    assert refused.metadata["rows_to_delete"].value == 6
    assert refused.metadata["rows"].value == 6
    assert "--confirm-deletes vip_vipupgrade" in refused.metadata["how_to_confirm"].value
    assert guard["orders_order"].passed
    assert _q(warehouse, "SELECT count(*) FROM raw.vip_vipupgrade") == [(6,)]

    confirmed = _materialize(url, warehouse, confirm_deletes=["vip_vipupgrade"])
    assert confirmed.success
    assert _evaluations(confirmed, "mass_delete_guard")["vip_vipupgrade"].passed
    assert _q(warehouse, "SELECT count(*) FROM raw.vip_vipupgrade") == [(0,)]


# -- the contract ------------------------------------------------------------------------------


def _alter(path, *statements: str) -> None:
    db = sqlite3.connect(path)
    for s in statements:
        db.execute(s)
    db.commit()
    db.close()


@pytest.mark.parametrize(
    "change",
    [
        'ALTER TABLE orders_order DROP COLUMN "discount_type"',
        'ALTER TABLE orders_order RENAME COLUMN "discount_type" TO "discount_kind"',
    ],
    ids=["dropped", "renamed"],
)
def test_a_contract_column_gone_from_the_source_fails_its_table(change, source_copy, tmp_path):
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    assert extract_all(url, warehouse).ok
    discounted = _q(warehouse, "SELECT count(discount_type) FROM raw.orders_order")[0][0]
    assert discounted > 0
    _alter(source_copy, change)
    report = extract_all(url, warehouse)
    assert set(report.errors) == {"orders_order"}
    err = report.errors["orders_order"]
    assert isinstance(err, ContractBrokenError)
    assert "discount_type" in str(err) and "orders_order" in str(err)
    assert _q(warehouse, "SELECT count(discount_type) FROM raw.orders_order") == [(discounted,)]


def test_a_column_outside_the_contract_may_go(source_copy, tmp_path):
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    _alter(source_copy, "ALTER TABLE orders_order ADD COLUMN legacy_note TEXT")
    assert extract_all(url, warehouse, tables=["orders_order"]).ok
    _alter(source_copy, "ALTER TABLE orders_order DROP COLUMN legacy_note")
    assert extract_all(url, warehouse, tables=["orders_order"]).ok


@pytest.mark.parametrize(
    "change",
    [
        "DROP TABLE payments_refund",
        "ALTER TABLE payments_refund RENAME TO payments_refunds",
    ],
    ids=["dropped", "renamed"],
)
def test_a_contract_table_gone_from_the_source_fails_loudly(change, source_copy, tmp_path):
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    assert _materialize(url, warehouse).success
    _alter(source_copy, change)
    result = _materialize(url, warehouse)
    assert not result.success
    gone = _evaluations(result, "contract_in_source")["payments_refund"]
    assert not gone.passed and gone.severity == dg.AssetCheckSeverity.ERROR
    assert "payments_refund" in gone.metadata["missing"].value
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert "payments_refund" in failure.description


def test_contract_column_dropped_is_an_error_check(source_copy, tmp_path):
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    assert _materialize(url, warehouse).success
    _alter(source_copy, 'ALTER TABLE orders_order DROP COLUMN "discount_type"')
    result = _materialize(url, warehouse)
    assert not result.success
    evals = _evaluations(result, "contract_in_source")
    assert not evals["orders_order"].passed
    assert evals["orders_order"].severity == dg.AssetCheckSeverity.ERROR
    assert "orders_order.discount_type" in evals["orders_order"].metadata["missing"].value
    assert evals["payments_payment"].passed


# -- bad values --------------------------------------------------------------------------------


def test_text_that_is_not_utf8_is_null_and_kept(source_copy, tmp_path):
    db = sqlite3.connect(source_copy)
    user = db.execute("SELECT min(id) FROM accounts_user").fetchone()[0]
    db.execute(
        "UPDATE accounts_user SET first_name = CAST(X'4AE9726F6D65' AS TEXT) WHERE id = ?", (user,)
    )  # 'Jérome' in Latin-1
    db.commit()
    db.close()
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    report = extract_all(url, warehouse)
    assert report.ok, report.errors
    assert _q(warehouse, "SELECT first_name FROM raw.accounts_user WHERE id = ?", [user]) == [
        (None,)
    ]
    assert _q(warehouse, "SELECT count(*) FROM raw.accounts_user") == [(150,)]
    assert _q(
        warehouse,
        f"SELECT table_name, row_key, column_name, raw_value, rule FROM {META}._rejected_values",
    ) == [("accounts_user", str(user), "first_name", "J\\xe9rome", "invalid_utf8")]
    # A second run finds the same value and records nothing new.
    assert extract_all(url, warehouse).ok
    assert _q(warehouse, f"SELECT count(*) FROM {META}._rejected_values") == [(1,)]

    from pipelines.defs.raw.quality import find_violations

    found = [v for v in find_violations(str(warehouse)) if v.rule == "invalid_utf8"]
    assert [(v.table, v.key, v.column, v.check) for v in found] == [
        ("accounts_user", user, "first_name", "valid_text")
    ]


def test_a_new_table_with_a_binary_blob_is_copied_as_bytes(source_copy, tmp_path):
    blob = bytes([0, 0xFF, 0xFE, 0x80, 10, 65])
    db = sqlite3.connect(source_copy)
    db.execute("CREATE TABLE files_attachment (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
    db.execute(
        "INSERT INTO files_attachment VALUES (1, 'a.bin', ?), (2, 'b.txt', ?)", (blob, b"ok")
    )
    db.commit()
    db.close()
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    report = extract_all(url, warehouse)
    assert report.ok, report.errors
    assert _q(warehouse, "SELECT id, data FROM raw.files_attachment ORDER BY id") == [
        (1, blob),
        (2, b"ok"),
    ]
    types = dict(
        _q(
            warehouse,
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE table_name = 'files_attachment'",
        )
    )
    assert types["data"] == "BLOB"
    assert _q(warehouse, "SELECT count(*) FROM raw.orders_order") == [(134,)]


def test_an_amount_too_large_for_its_column_is_null_kept_and_named(source_copy, tmp_path):
    """10^12 in NUMERIC(12,2) (the contract's money): NULL in raw, the row and every other
    table load, the text kept and named by the `exact_decimals` check (ERROR)."""
    db = sqlite3.connect(source_copy)
    order = db.execute("SELECT min(id) FROM orders_order").fetchone()[0]
    db.execute("UPDATE orders_order SET total = 1000000000000 WHERE id = ?", (order,))
    db.commit()
    db.close()
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    result = _materialize(url, warehouse)
    assert result.success
    assert _q(warehouse, "SELECT total FROM raw.orders_order WHERE id = ?", [order]) == [(None,)]
    assert _q(warehouse, "SELECT count(*) FROM raw.orders_order") == [(134,)]
    assert _q(
        warehouse,
        f"SELECT table_name, row_key, column_name, raw_value, rule FROM {META}._rejected_values",
    ) == [("orders_order", str(order), "total", "1000000000000", "decimal_out_of_range")]

    from pipelines.defs.raw.quality import find_violations

    found = [v for v in find_violations(str(warehouse)) if v.check == "exact_decimals"]
    assert [(v.table, v.key, v.column) for v in found] == [("orders_order", order, "total")]


# -- the same values on PostgreSQL, through every reader -------------------------------------

#: PostgreSQL's readers (`pipelines.extract.readers`): ADBC's binary COPY, and psycopg
#: through SQLAlchemy (the portable reader).
PG_READERS = ["adbc", "sqlalchemy"]
#: The suite's small source (the reliability conftest's SIZE), generated into PostgreSQL.
PG_SIZE = {"customers": 150, "days": 15, "seed": 11, "start": "2026-10-01"}
#: A database that keeps whatever bytes it is given (no encoding, C locale), and one in
#: Latin-1: the two ways a PostgreSQL text column can hold what is not UTF-8 text.
SQL_ASCII = "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
LATIN1 = "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
_pg_numbers = itertools.count(1)


@pytest.fixture
def pg_source(postgres_server):
    """`make(create_options="")`: the small source generated into a new database on the
    test server (created with `create_options`, e.g. an encoding), its URL; every database
    made is dropped after the test."""
    admin = sa.create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make(create_options: str = "") -> str:
        name = f"guards_{os.getpid()}_{next(_pg_numbers)}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" {create_options}')
        names.append(name)
        url = postgres_server.url(name)
        # The generator's psycopg speaks UTF-8 (on SQL_ASCII it would get bytes back).
        seeds.generate(f"{url}?client_encoding=utf8", **PG_SIZE, progress=False)
        return url

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _pg(url: str, sql: str, params=None):
    """Run one statement on the source (as the application would); its rows, if any."""
    engine = sa.create_engine(f"{url}?client_encoding=utf8")
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql), params or {})
            return result.fetchall() if result.returns_rows else None
    finally:
        engine.dispose()


def _with_client_encoding(url: str, client_encoding: str | None) -> str:
    return url if client_encoding is None else f"{url}?client_encoding={client_encoding}"


@pytest.mark.postgres
@pytest.mark.parametrize("reader", PG_READERS)
def test_postgres_bytea_of_a_new_table_is_copied_as_bytes(reader, pg_source, tmp_path):
    """A `bytea` column of a table outside the contract lands as BLOB, byte for byte (NUL,
    0xFF, a lone continuation byte, a newline), NULL as NULL; every other table loads. An
    incremental run follows an UPDATE of one value; the next one has nothing to write."""
    blob = bytes([0, 0xFF, 0xFE, 0x80, 10, 65])
    url = pg_source()
    _pg(url, "CREATE TABLE files_attachment (id integer PRIMARY KEY, name text, data bytea)")
    _pg(
        url,
        "INSERT INTO files_attachment VALUES (:id, :name, :data)",
        [
            {"id": 1, "name": "a.bin", "data": blob},
            {"id": 2, "name": "b.txt", "data": b"ok"},
            {"id": 3, "name": "none", "data": None},
        ],
    )
    warehouse = tmp_path / "w.duckdb"
    report = extract_all(Source(url, reader=reader), warehouse)
    assert report.ok, report.errors
    assert _q(warehouse, "SELECT id, data FROM raw.files_attachment ORDER BY id") == [
        (1, blob),
        (2, b"ok"),
        (3, None),
    ]
    types = dict(
        _q(
            warehouse,
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE table_name = 'files_attachment'",
        )
    )
    assert types == {"id": "INTEGER", "name": "VARCHAR", "data": "BLOB"}
    assert _q(warehouse, "SELECT count(*) FROM raw.orders_order") == [(134,)]

    changed = bytes([0x80, 0, 0xFF, 0xC3])  # not UTF-8 either
    _pg(url, "UPDATE files_attachment SET data = :data WHERE id = 2", {"data": changed})
    report = extract_all(Source(url, reader=reader), warehouse)
    assert report.ok, report.errors
    result = report.results["files_attachment"]
    assert (result.full_refresh, result.rows_updated) == (False, 1)
    # ADBC's xmin cursor reads the changed row; the portable reader's is the ledger's id
    # (no updated_at), blind to an update: the content check finds and repairs it.
    assert result.rows_repaired == (0 if reader == "adbc" else 1)
    assert _q(warehouse, "SELECT id, data FROM raw.files_attachment ORDER BY id") == [
        (1, blob),
        (2, changed),
        (3, None),
    ]
    # A quiet run: the bytes compare equal, nothing read again is written.
    report = extract_all(Source(url, reader=reader), warehouse)
    assert report.ok, report.errors
    result = report.results["files_attachment"]
    assert result.content_checked
    assert (result.rows_inserted, result.rows_updated, result.rows_repaired) == (0, 0, 0)
    assert _q(warehouse, "SELECT count(*) FROM raw.orders_order") == [(134,)]


@pytest.mark.postgres
@pytest.mark.parametrize("client_encoding", [None, "utf8"])
@pytest.mark.parametrize("reader", PG_READERS)
def test_postgres_text_that_is_not_utf8_is_null_and_kept(
    reader, client_encoding, pg_source, tmp_path
):
    """A SQL_ASCII database keeps the bytes an application wrote ('Jérome' in Latin-1) in a
    text column: as on SQLite, the row loads with NULL there, the bytes are kept escaped in
    meta._rejected_values and named by `valid_text`, and a second run adds nothing; whether
    or not the URL asks for a client encoding.

    Failed before, every case. Without a client encoding, on both readers: the run raised
    TypeError (psycopg hands SQLAlchemy's first connect the server version as bytes) and
    loaded nothing. With `client_encoding=utf8`, the server refused to send the row: ADBC
    reported that as a lost connection, and every other table went "not tried" (nothing
    loaded); the portable reader failed accounts_user (DataError, 22021)."""
    url = pg_source(SQL_ASCII)
    ((user,),) = _pg(url, "SELECT min(id) FROM accounts_user")
    _pg(
        url,
        "UPDATE accounts_user SET first_name = convert_from('\\x4ae9726f6d65'::bytea, "
        "'SQL_ASCII') WHERE id = :user",
        {"user": user},
    )  # 'Jérome' in Latin-1
    source, warehouse = _with_client_encoding(url, client_encoding), tmp_path / "w.duckdb"
    report = extract_all(Source(source, reader=reader), warehouse)
    assert report.ok, report.errors
    assert _q(warehouse, "SELECT first_name FROM raw.accounts_user WHERE id = ?", [user]) == [
        (None,)
    ]
    assert _q(warehouse, "SELECT count(*) FROM raw.accounts_user") == [(150,)]
    assert _q(warehouse, "SELECT count(*) FROM raw.orders_order") == [(134,)]
    assert _q(
        warehouse,
        f"SELECT table_name, row_key, column_name, raw_value, rule FROM {META}._rejected_values",
    ) == [("accounts_user", str(user), "first_name", "J\\xe9rome", "invalid_utf8")]
    # A second run finds the same value and records nothing new.
    assert extract_all(Source(source, reader=reader), warehouse).ok
    assert _q(warehouse, f"SELECT count(*) FROM {META}._rejected_values") == [(1,)]

    from pipelines.defs.raw.quality import find_violations

    found = [v for v in find_violations(str(warehouse)) if v.rule == "invalid_utf8"]
    assert [(v.table, v.key, v.column, v.check) for v in found] == [
        ("accounts_user", user, "first_name", "valid_text")
    ]


@pytest.mark.postgres
@pytest.mark.parametrize("client_encoding", [None, "utf8", "latin1"])
@pytest.mark.parametrize("reader", PG_READERS)
def test_postgres_latin1_text_arrives_as_utf8(reader, client_encoding, pg_source, tmp_path):
    """A LATIN1 database holds 'Jérome' as six Latin-1 bytes, which are valid text there:
    the server transcodes them, and 'Jérome' arrives exactly, nothing refused, whatever
    client encoding the URL asks for.

    Failed before on ADBC without a client encoding and with `latin1`: the Latin-1 bytes
    went into Arrow's UTF-8 strings unconverted, so raw held NULL and a valid 'Jérome' was
    recorded as `invalid_utf8`. (ADBC with `utf8`, and the portable reader, passed.)"""
    url = pg_source(LATIN1)
    ((user,),) = _pg(url, "SELECT min(id) FROM accounts_user")
    _pg(url, "UPDATE accounts_user SET first_name = 'Jérome' WHERE id = :user", {"user": user})
    assert _pg(url, "SELECT octet_length(first_name) FROM accounts_user WHERE id = :user",
               {"user": user}) == [(6,)]  # fmt: skip
    source, warehouse = _with_client_encoding(url, client_encoding), tmp_path / "w.duckdb"
    report = extract_all(Source(source, reader=reader), warehouse)
    assert report.ok, report.errors
    assert _q(warehouse, "SELECT first_name FROM raw.accounts_user WHERE id = ?", [user]) == [
        ("Jérome",)
    ]
    assert _q(warehouse, "SELECT count(*) FROM raw.accounts_user") == [(150,)]
    assert _q(warehouse, "SELECT count(*) FROM raw.orders_order") == [(134,)]
    rejected = _q(warehouse, f"SELECT count(*) FROM duckdb_tables() WHERE schema_name = "
                  f"'{META}' AND table_name = '_rejected_values'")  # fmt: skip
    assert rejected == [(0,)]


# -- bookkeeping in its own schema ----------------------------------------------------------


def test_a_source_table_named_like_the_bookkeeping_is_copied_as_any_other(source_copy, tmp_path):
    db = sqlite3.connect(source_copy)
    db.execute("CREATE TABLE _sync_state (id INTEGER PRIMARY KEY, table_name TEXT, note TEXT)")
    db.execute("CREATE TABLE _deleted_rows (id INTEGER PRIMARY KEY, what TEXT)")
    db.execute("INSERT INTO _sync_state VALUES (1, 'orders_order', 'mine'), (2, 'x', 'y')")
    db.execute("INSERT INTO _deleted_rows VALUES (7, 'kept')")
    db.commit()
    db.close()
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    for _ in range(2):
        report = extract_all(url, warehouse)
        assert report.ok, report.errors
    assert _q(warehouse, "SELECT id, table_name, note FROM raw._sync_state ORDER BY id") == [
        (1, "orders_order", "mine"),
        (2, "x", "y"),
    ]
    assert _q(warehouse, "SELECT id, what FROM raw._deleted_rows") == [(7, "kept")]
    tracked = {t for (t,) in _q(warehouse, f"SELECT table_name FROM {META}._sync_state")}
    assert {"_sync_state", "_deleted_rows", "orders_order"} <= tracked
    orders = report.results["orders_order"]  # incremental: the state was read
    assert not orders.full_refresh and orders.rows_read < 134


def test_an_older_warehouse_moves_its_bookkeeping_on_first_open(source_copy, tmp_path):
    """A warehouse made before kept its bookkeeping in raw: the first open moves the rows
    into schema meta and drops the old tables; the next run goes on incrementally."""
    url, warehouse = f"sqlite:///{source_copy}", tmp_path / "w.duckdb"
    assert extract_all(url, warehouse).ok
    _delete(
        source_copy, "DELETE FROM payments_refund WHERE id = (SELECT min(id) FROM payments_refund)"
    )
    assert extract_all(url, warehouse).ok
    con = duckdb.connect(str(warehouse))
    state = con.execute(f"SELECT * FROM {META}._sync_state ORDER BY table_name").fetchall()
    audit = con.execute(f"SELECT * FROM {META}._deleted_rows").fetchall()
    assert len(state) == 24 and len(audit) == 1
    con.execute(
        "CREATE TABLE raw._rejected_values AS SELECT 'orders_order' AS table_name, "
        "'1' AS row_key, 'total' AS column_name, 'x' AS raw_value, "
        "'decimal_unparsable' AS rule, 'r' AS run_id, now() AS seen_at"
    )
    for table in ("_sync_state", "_deleted_rows"):  # back to the old layout
        con.execute(f"CREATE TABLE raw.{table} AS SELECT * FROM {META}.{table}")
        con.execute(f"DROP TABLE {META}.{table}")
    con.close()

    report = extract_all(url, warehouse)
    assert report.ok, report.errors
    orders = report.results["orders_order"]  # the watermarks were kept: incremental
    assert not orders.full_refresh and orders.rows_read < 134
    after = _q(warehouse, f"SELECT * FROM {META}._sync_state ORDER BY table_name")
    assert [r[0] for r in after] == [r[0] for r in state]
    assert [r[3:5] for r in after] == [r[3:5] for r in state]  # watermarks
    assert _q(warehouse, f"SELECT * FROM {META}._deleted_rows") == audit
    assert _q(warehouse, f"SELECT row_key, rule FROM {META}._rejected_values") == [
        ("1", "decimal_unparsable")
    ]
    left = _q(
        warehouse,
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' "
        "AND table_name LIKE '\\_%' ESCAPE '\\'",
    )
    assert left == []
