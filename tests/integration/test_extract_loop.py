"""The table loop: retries on a fresh connection, a table's failure alone, a source that is down."""

from __future__ import annotations

import pytest
from extract_support import TABLES, HandSource, assert_equal
from psycopg import errors as pg

from pipelines.errors import SourceBusyError, TableNotInSourceError
from pipelines.extract import (
    ExtractReport,
    RetryPolicy,
    Source,
    TableFailure,
    extract_all,
    extract_tables,
    replicate,
)

NO_PAUSE = RetryPolicy(retries=2, first_pause_s=0, sleep=lambda _: None, log=lambda _: None)


@pytest.fixture
def source(tmp_path) -> HandSource:
    src = HandSource(f"sqlite:///{tmp_path / 'source.db'}")
    src.populate()
    return src


class Attempts(list):
    """(table, on a fresh connection?) of every attempt at a table; `fail[table]`: the
    errors its next attempts raise, in turn."""

    def __init__(self) -> None:
        super().__init__()
        self.fail: dict[str, list[Exception]] = {}


@pytest.fixture
def attempts(monkeypatch) -> Attempts:
    calls = Attempts()
    extract_table = replicate.extract_table

    def traced(con, session, plan, options):
        calls.append((plan.name, session.conn is not session.source._shared))
        errors = calls.fail.get(plan.name)
        if errors:
            raise errors.pop(0)
        return extract_table(con, session, plan, options)

    monkeypatch.setattr(replicate, "extract_table", traced)
    return calls


def _run(url: str, warehouse, retry=NO_PAUSE, tables=None) -> ExtractReport:
    src = Source(url)
    report = ExtractReport()
    for outcome in extract_tables(src, warehouse, src.plans(), retry=retry, tables=tables):
        report.add(outcome)
    return report


def test_a_retry_reads_on_a_fresh_connection(source, tmp_path, attempts):
    attempts.fail["menu_meal"] = [SourceBusyError("database is locked")]
    report = _run(source.url, tmp_path / "w.duckdb")
    assert report.ok, report.errors
    meal = [fresh for table, fresh in attempts if table == "menu_meal"]
    assert meal == [False, True]  # the shared connection, then a new one
    assert_equal(source.url, tmp_path / "w.duckdb")


def test_a_fault_of_one_table_fails_that_table_alone(source, tmp_path, attempts):
    timeout = pg.LockNotAvailable("canceling statement due to lock timeout")
    attempts.fail["menu_meal"] = [timeout] * 3
    report = _run(source.url, tmp_path / "w.duckdb")
    assert list(report.errors) == ["menu_meal"]
    assert sorted(report.results) == sorted(set(TABLES) - {"menu_meal"})
    assert [t for t, _ in attempts].count("menu_meal") == 3  # retried twice


def test_a_source_that_stays_down_ends_the_loop(source, tmp_path, attempts):
    attempts.fail["corporate_contract"] = [SourceBusyError("database is locked")] * 3
    src = Source(source.url)
    outcomes = list(extract_tables(src, tmp_path / "w.duckdb", src.plans(), retry=NO_PAUSE))
    names = [o.table for o in outcomes]
    assert names == sorted(TABLES)
    failed = {o.table: o for o in outcomes if isinstance(o, TableFailure)}
    after = names[names.index("corporate_contract") + 1 :]
    assert sorted(failed) == sorted(["corporate_contract", *after])
    for table in after:  # not tried at all, and the failure says why
        assert table not in {t for t, _ in attempts}
        assert failed[table].message.startswith("not tried: the source failed on corporate_")


def test_a_table_gone_from_the_source_fails_alone(source, tmp_path):
    report = _run(source.url, tmp_path / "w.duckdb", tables=["menu_meal", "gone", "orders_order"])
    assert sorted(report.results) == ["menu_meal", "orders_order"]
    assert isinstance(report.errors["gone"], TableNotInSourceError)


def test_extract_all_takes_a_retry_policy(source, tmp_path, attempts):
    attempts.fail["orders_order"] = [SourceBusyError("database is locked")]
    assert not extract_all(source.url, tmp_path / "a.duckdb").ok  # no retries by default
    attempts.fail["orders_order"] = [SourceBusyError("database is locked")]
    assert extract_all(source.url, tmp_path / "b.duckdb", retry=NO_PAUSE).ok
