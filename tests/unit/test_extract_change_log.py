"""The change log's pieces on tiny DuckDB tables: keys as JSON, before images that come back
exact with every type, the threshold, the log of one commit, pruning."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from pipelines.extract import changes
from pipelines.extract import warehouse as wh
from pipelines.extract.options import CHANGE_LOG_MAX_SHARE, CHANGE_LOG_MIN_ROWS, ExtractOptions
from pipelines.extract.plan import ColumnPlan, TablePlan

UTC = dt.UTC
T1 = dt.datetime(2026, 1, 1, 8, 0, 0, 123456, tzinfo=UTC)
ID = ColumnPlan("id", "integer", "BIGINT", "INTEGER")
CODE = ColumnPlan("code", "text", "VARCHAR", "TEXT")
SITE = ColumnPlan("site", "integer", "BIGINT", "INTEGER")
TYPES = {
    "id": "BIGINT",
    "total": "DECIMAL(38,10)",
    "price": "DECIMAL(12,2)",
    "at": "TIMESTAMP WITH TIME ZONE",
    "day": "DATE",
    "pic": "BLOB",
    'we"ird': "VARCHAR",
    "ok": "BOOLEAN",
}
ROW = (
    2**53 + 1,
    Decimal("1234567890123456789012345678.0123456789"),
    Decimal("12.30"),
    T1,
    dt.date(2024, 2, 29),
    b"\xff\x00ab",
    'a "q"',
    True,
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = wh.connect(":memory:")
    cols = ", ".join(f'"{n.replace(chr(34), chr(34) * 2)}" {t}' for n, t in TYPES.items())
    con.execute(f"CREATE TABLE raw.t ({cols})")
    con.execute(f"INSERT INTO raw.t VALUES ({', '.join('?' * len(TYPES))})", list(ROW))
    con.execute(f"INSERT INTO raw.t VALUES (7, {', '.join(['NULL'] * (len(TYPES) - 1))})")
    yield con
    con.close()


def test_the_before_image_comes_back_exact_for_every_type(con):
    image = changes.before_image(wh.raw_columns(con, "t"), "r")
    back = ", ".join(
        f"CAST(json_extract_string(j, '$.\"{n.replace(chr(34), chr(92) + chr(34))}\"') AS {t})"
        for n, t in TYPES.items()
    )
    rows = con.execute(
        f"SELECT {back} FROM (SELECT {image} AS j FROM raw.t r) ORDER BY 1 DESC"
    ).fetchall()
    assert rows == [ROW, (7,) + (None,) * (len(TYPES) - 1)]
    (text,) = con.execute(f"SELECT CAST({image} AS VARCHAR) FROM raw.t r WHERE id = 7").fetchone()
    assert text.startswith('{"id":7,"total":null,')


def test_keys_are_an_id_and_a_json_array(con):
    one = TablePlan("t", (ID,), ("id",), "merge", None, "sqlite")
    text = TablePlan("t", (CODE,), ("code",), "merge", None, "sqlite")
    pair = TablePlan("t", (SITE, CODE), ("site", "code"), "merge", None, "sqlite")
    con.execute("CREATE TABLE k AS SELECT 17 AS id, 'a\"b' AS code, 3 AS site")
    cols = {"id": "BIGINT", "code": "VARCHAR", "site": "BIGINT"}
    found = [
        con.execute(f"SELECT {', '.join(changes.key_exprs(p, cols, 'k'))} FROM k k").fetchone()
        for p in (one, text, pair)
    ]
    assert found == [(17, "[17]"), (None, '["a\\"b"]'), (None, '[3,"a\\"b"]')]


@pytest.mark.parametrize(
    ("changed", "rows", "expected"),
    [
        (10_000, 10_000, False),  # not more than the minimum
        (10_001, 50_005, False),  # exactly 20 %
        (10_002, 50_005, True),
        (10_001, 0, True),  # an empty table filled by more than the minimum
        (200_000, 1_000_000, False),
        (200_001, 1_000_000, True),
    ],
)
def test_the_threshold(changed, rows, expected):
    assert changes.exceeds(changed, rows, CHANGE_LOG_MAX_SHARE, CHANGE_LOG_MIN_ROWS) is expected
    options = ExtractOptions()
    assert (options.change_log_max_share, options.change_log_min_rows) == (0.20, 10_000)
    with pytest.raises(ValueError, match="change_log_max_share"):
        ExtractOptions(change_log_max_share=20)


def _log(con, **limits) -> changes.ChangeLog:
    plan = TablePlan("t", (ID,), ("id",), "merge", None, "sqlite")
    limits = {"max_share": 0.2, "min_rows": 1, **limits}
    return changes.ChangeLog(con, plan, "run-1", T1, **limits)


def test_one_commit_shares_a_seq_and_past_the_threshold_is_one_all(con):
    con.execute("CREATE TEMP TABLE gone AS SELECT 7 AS id")
    first = _log(con, max_share=1.0)
    changes.log_deletes(first, 1, "gone")
    changes.log_deletes(first, 1, "gone")
    first.finish()
    second = _log(con, max_share=0.5)
    changes.log_deletes(second, 1, "gone")  # 1 of 2 rows: listed
    changes.log_deletes(second, 1, "gone")  # 2 of 2: past half, one 'all'
    second.finish()
    rows = con.execute(
        "SELECT seq, table_name, op, row_id, row_key, before IS NULL, recorded_at, run_id "
        "FROM meta._changes ORDER BY seq, op"
    ).fetchall()
    assert rows == [
        (first.seq, "t", "delete", 7, "[7]", False, T1, "run-1"),
        (first.seq, "t", "delete", 7, "[7]", False, T1, "run-1"),
        (second.seq, "t", "all", None, None, True, T1, "run-1"),
    ]
    assert second.seq > first.seq
    assert changes.changes_through(con) == second.seq
    assert changes.prune_changes(con, first.seq) == 2
    assert changes.prune_changes(con, second.seq) == 1
    assert changes.changes_through(con) is None


def test_a_commit_without_changes_takes_no_seq(con):
    log = _log(con)
    changes.log_deletes(log, 0, "raw.t")
    log.finish()
    assert log.seq is None
    assert con.execute("SELECT count(*) FROM meta._changes").fetchone() == (0,)
