"""The API's per-version query cache (pipelines/api/catalog.py): a published version never
changes, so a query's answer is kept for as long as the version is open, bounded, and
dropped with it; what is not the version's alone (the clock, chance, huge or mutable
results) is never kept."""

from __future__ import annotations

import datetime as dt
import threading
import time

import duckdb
import pytest

from pipelines.api.catalog import CachedCursor, Catalog, QueryCache, Result
from pipelines.publish import version as versions


@pytest.fixture
def con(tmp_path):
    path = tmp_path / "v.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("create schema marts")
        db.execute("create table marts.t as select range as i, range % 3 as k from range(10)")
    db = duckdb.connect(str(path), read_only=True)
    yield db
    db.close()


def test_a_repeated_query_is_answered_from_the_cache(con):
    cache = QueryCache()
    first = CachedCursor(con, cache).execute("select count(*) from marts.t where k = ?", [1])
    assert first.description[0][0] == "count_star()"
    assert first.fetchone() == (3,) and first.fetchone() is None
    again = CachedCursor(con, cache)
    assert again.execute("select count(*) from marts.t where k = ?", [1]).fetchall() == [(3,)]
    assert again._cursor is None  # answered without opening a DuckDB cursor
    assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)
    # other parameters, another query
    assert again.execute("select count(*) from marts.t where k = ?", [0]).fetchall() == [(4,)]
    assert (cache.misses, len(cache)) == (2, 2)


def test_the_cursor_reads_as_duckdb_s(con):
    cursor = CachedCursor(con, QueryCache())
    rows = cursor.execute("select i from marts.t order by i").fetchmany(3)
    assert rows == [(0,), (1,), (2,)]
    assert cursor.fetchone() == (3,)
    assert cursor.fetchall() == [(i,) for i in range(4, 10)]
    assert cursor.fetchall() == []
    # a caller changing the list it got does not change what the cache holds
    cursor.execute("select i from marts.t order by i").fetchall().clear()
    assert len(cursor.execute("select i from marts.t order by i").fetchall()) == 10


def test_a_result_read_another_way_sees_the_same_answer(con):
    cache = QueryCache()
    CachedCursor(con, cache).execute("select i from marts.t where k = ? order by i", [2])
    cursor = CachedCursor(con, cache)  # the next one is a hit: its DuckDB cursor ran nothing
    frame = cursor.execute("select i from marts.t where k = ? order by i", [2]).df()
    assert list(frame["i"]) == [2, 5, 8]
    assert cursor.execute("select 7 as seven").fetchnumpy()["seven"].tolist() == [7]


@pytest.mark.parametrize("sql", [
    "select now()", "select current_date", "select random()", "select uuid()",
    "pragma version", "set threads = 1",
])
def test_what_is_not_the_version_s_alone_is_never_kept(con, sql):
    cache = QueryCache()
    CachedCursor(con, cache).execute(sql)
    assert len(cache) == 0


def test_large_and_mutable_results_are_not_kept(con):
    cache = QueryCache(max_rows=5)
    CachedCursor(con, cache).execute("select i from marts.t").fetchall()
    CachedCursor(con, cache).execute("select [1, 2] as l").fetchall()
    assert len(cache) == 0


def test_the_cache_is_bounded_least_recently_used_out(con):
    cache = QueryCache(entries=2)
    cursor = CachedCursor(con, cache)
    for k in (0, 1, 0, 2):  # 1 is the least recently used when 2 arrives
        cursor.execute("select count(*) from marts.t where k = ?", [k])
    assert sorted(key[1][0][1] for key in cache._results) == [0, 2]


def test_the_rows_kept_are_bounded_too(con):
    cache = QueryCache(total_rows=6)
    cursor = CachedCursor(con, cache)
    for k in (0, 1, 2):  # 4, 3, 3 rows: 4 + 3 > 6, the first goes when the second comes
        cursor.execute("select i from marts.t where k = ?", [k]).fetchall()
    assert sorted(key[1][0][1] for key in cache._results) == [1, 2] and cache._rows == 6


def test_the_same_query_at_once_runs_once():
    cache, calls, gate = QueryCache(), [], threading.Event()

    def slow() -> Result:
        calls.append(1)
        gate.wait(5)
        return Result([("x",)], ((1,),))

    answers = []
    threads = [threading.Thread(target=lambda: answers.append(cache.get(("q", ()), slow)))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert len(calls) == 1 and [a.rows for a in answers] == [((1,),)] * 5


def test_a_failed_query_is_not_kept_and_raises_for_its_caller(con):
    cache = QueryCache()
    with pytest.raises(duckdb.Error):
        CachedCursor(con, cache).execute("select * from marts.nothing_here")
    assert len(cache) == 0 and not cache._running


def _publish(folder, name: str, value: int) -> None:
    """A hand-made version `name` (a catalog with marts.v = value), made current as
    publishing does (versions/current → the version's folder)."""
    version = folder / versions.VERSIONS_DIR / name
    version.mkdir(parents=True)
    with duckdb.connect(str(version / versions.DATABASE)) as db:
        db.execute(f"create schema marts; create table marts.v as select {value} as value")
    versions._symlink_atomically(folder / versions.VERSIONS_DIR / versions.CURRENT, name)


def test_each_version_has_its_cache_dropped_with_it(tmp_path):
    _publish(tmp_path, "v1", 1)
    catalog = Catalog(tmp_path, tmp_path / "published.duckdb")
    with catalog.reading() as reading:
        assert reading.con.execute("select value from marts.v").fetchone() == (1,)
    assert len(catalog.cache_of("v1")) == 1
    with catalog.reading() as old:  # a request still reading v1 when v2 is published
        _publish(tmp_path, "v2", 2)
        with catalog.reading() as new:
            assert new.version == "v2"
            assert new.con.execute("select value from marts.v").fetchone() == (2,)
        assert old.con.execute("select value from marts.v").fetchone() == (1,)
    assert catalog.open_versions() == ["v2"] and catalog.cache_of("v1") is None
    assert len(catalog.cache_of("v2")) == 1
    catalog.close()
    assert catalog.cache_of("v2") is None


def test_a_cache_can_be_turned_off(tmp_path):
    _publish(tmp_path, "v1", 1)
    catalog = Catalog(tmp_path, tmp_path / "published.duckdb", cache_entries=0)
    with catalog.reading() as reading:
        assert reading.con.execute("select value from marts.v").fetchone() == (1,)
        assert reading.con.execute("select ? + 1", [dt.date(2024, 1, 1).day]).fetchone() == (2,)
    assert catalog.cache_of("v1") is None
    catalog.close()



def test_a_new_version_is_read_once_warm_with_the_previous_version_s_queries(tmp_path):
    """With `warm`, requests go on reading v1 while v2 is asked v1's kept queries (most
    recently used first) and what the warmers ask, off the request threads; then v2."""
    _publish(tmp_path, "v1", 1)
    catalog = Catalog(tmp_path, tmp_path / "published.duckdb", warm=True)
    release, asked, switched = threading.Event(), [], []

    def slow_warmer(previous: str, reading) -> None:
        asked.append((previous, reading.version,
                      reading.con.execute("select value * 10 from marts.v").fetchone()))
        release.wait(10)

    catalog.add_warmer(slow_warmer)
    catalog.on_switch(switched.append)
    with catalog.reading() as reading:
        reading.con.execute("select value from marts.v").fetchone()
        reading.con.execute("select value + ? from marts.v", [5]).fetchone()
    _publish(tmp_path, "v2", 2)
    with catalog.reading() as during:  # v2 warms in the background: v1 answers, warm
        assert during.version == "v1"
        assert during.con.execute("select value from marts.v").fetchone() == (1,)
    deadline = time.monotonic() + 10
    while not asked and time.monotonic() < deadline:
        time.sleep(0.01)
    assert asked == [("v1", "v2", (20,))]
    with catalog.reading() as still:
        assert still.version == "v1"
    assert switched == []
    release.set()
    assert catalog.settle() == "v2" and switched == ["v2"]
    cache = catalog.cache_of("v2")
    # v1's two queries, answered by v2 before any request read it, and the warmer's own
    assert len(cache) == 3 and (cache.hits, cache.misses) == (0, 3)
    with catalog.reading() as after:
        assert after.version == "v2"
        assert after.con.execute("select value + ? from marts.v", [5]).fetchone() == (7,)
    assert cache.hits == 1
    assert catalog.open_versions() == ["v2"]  # v1 closed: no request reads it
    assert catalog.warmed[0][:2] == ("v2", 2)
    catalog.close()


def test_a_version_that_cannot_be_opened_leaves_the_previous_one_served(tmp_path):
    _publish(tmp_path, "v1", 1)
    catalog = Catalog(tmp_path, tmp_path / "published.duckdb", warm=True)
    with catalog.reading() as reading:
        assert reading.version == "v1"
    _publish(tmp_path, "v2", 2)
    (tmp_path / versions.VERSIONS_DIR / "v2" / versions.DATABASE).write_bytes(b"not duckdb")
    with catalog.reading() as reading:
        assert reading.con.execute("select value from marts.v").fetchone() == (1,)
    with pytest.raises(TimeoutError, match="v2"):
        catalog.settle(timeout=1)
    with catalog.reading() as reading:  # still v1, still answering
        assert reading.version == "v1"
    catalog.close()


def test_prime_warms_what_is_published_with_the_warmers(tmp_path):
    catalog = Catalog(tmp_path, tmp_path / "published.duckdb", warm=True)
    asked = []
    catalog.add_warmer(lambda previous, reading: asked.append(
        (previous, reading.con.execute("select value from marts.v").fetchone())))
    assert catalog.prime() is None and asked == []  # nothing published yet: nothing to warm
    _publish(tmp_path, "v1", 4)
    assert catalog.prime() == "v1" and asked == [(None, (4,))]
    assert len(catalog.cache_of("v1")) == 1  # what the warmer asked is kept
    catalog.close()
