"""No health detail of a person, and no staff member but as an aggregate, is published
(issue 17, part 3; DESIGN.md's principles), beside test_published_privacy.py.

test_published_privacy.py searches every published file for every personal string,
allergy texts included. What a string search cannot see is checked here, on the published
catalog (published.duckdb: every mart as the readers get it; the Parquet files hold the
same rows):

- Allergy texts: the string search does cover them (every allergy text of the source long
  enough to be searched is among its values).
- Calorie targets are 4-digit numbers, found by chance in any figure, so a value search
  means nothing; what would make one personal is a row that ties it to someone. So: no
  published relation has a pair of columns (an identifier, a number) whose rows reproduce
  the (user, calorie target) pairs of the source, keyed by the user, the health profile or
  the user's orders; and no published column is named after a health detail.
- Staff names (riders, nutritionists, agents) appear only in the staff marts, which are
  aggregates: no row of them names a customer, an order, a delivery, a consultation or a
  ticket.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest
from reliability_support import STAFF_MARTS

from pipelines.publish.version import publish_version

#: Columns that would tie a row to one person or one event.
ROW_IDENTIFIERS = {
    "user_id",
    "order_id",
    "delivery_id",
    "consultation_id",
    "ticket_id",
    "health_profile_id",
    "email",
    "phone",
    "first_name",
    "last_name",
}
HEALTH_WORDS = ("allerg", "calorie", "kcal", "activity_level", "health_profile")
#: A relation ties calorie targets to people when this many of its rows (or this share of
#: the source's targets, if larger) reproduce a (person, target) pair of the source: a
#: coincidence or two (an id next to a figure that happens to equal a target) is not a leak.
MIN_PAIRS, MIN_SHARE = 3, 0.10


@pytest.fixture(scope="module")
def catalog(built_warehouse, tmp_path_factory) -> Path:
    """published.duckdb of the shared small build, published as a run publishes it."""
    base = tmp_path_factory.mktemp("health_privacy")
    build = base / "warehouse.duckdb"
    shutil.copy(built_warehouse, build)
    out = base / "out"
    publish_version(build, out)
    found = [p for p in out.rglob("*.duckdb") if not p.is_symlink()]
    assert len(found) == 1, found
    return found[0]


def calorie_truth(source: Path) -> dict[str, set[tuple[int, int]]]:
    """{key kind: {(key, calorie target)}} of the source: by user, by health profile, and
    by each order of the user."""
    db = sqlite3.connect(source)
    try:
        rows = db.execute(
            "select h.user_id, h.id, h.daily_calorie_target from health_healthprofile h"
            " where h.daily_calorie_target is not null"
        ).fetchall()
        orders = db.execute(
            "select o.id, h.daily_calorie_target from orders_order o"
            " join health_healthprofile h on h.user_id = o.user_id"
            " where h.daily_calorie_target is not null"
        ).fetchall()
    finally:
        db.close()
    return {
        "user": {(u, t) for u, _, t in rows},
        "profile": {(p, t) for _, p, t in rows},
        "order": set(orders),
    }


def _relations(con) -> dict[str, dict[str, str]]:
    """{schema.relation: {column: type}} of every table and view of the catalog."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for schema, table, column, kind in con.execute(
        "select schema_name, table_name, column_name, data_type from duckdb_columns()"
        " where database_name = current_database() and not internal order by all"
    ).fetchall():
        out[f'"{schema}"."{table}"'][column] = kind
    return out


def calorie_pairs(con, truth: dict[str, set[tuple[int, int]]]) -> dict[str, int]:
    """{relation (id column, number column, key kind): matching pairs} wherever a relation's
    rows reproduce at least the threshold of the source's (person, calorie target) pairs."""
    numeric = ("INTEGER", "BIGINT", "SMALLINT", "HUGEINT", "DECIMAL", "DOUBLE", "FLOAT")
    threshold = max(MIN_PAIRS, int(MIN_SHARE * len(truth["user"])))
    found = {}
    for relation, columns in _relations(con).items():
        keys = [c for c in columns if c == "id" or c.endswith("_id")]
        values = [c for c, k in columns.items() if k.startswith(numeric) and c not in keys]
        for key in keys:
            for value in values:
                pairs = {
                    (int(k), int(v))
                    for k, v in con.execute(
                        f'select distinct "{key}", "{value}" from {relation}'
                        f' where "{key}" is not null and "{value}" is not null'
                        f' and "{value}" = round("{value}")'
                    ).fetchall()
                }
                for kind, known in truth.items():
                    matches = len(pairs & known)
                    if matches >= threshold:
                        found[f"{relation} ({key}, {value}, by {kind})"] = matches
    return found


def test_allergy_texts_are_among_the_searched_values(small_source_file):
    """The string search of test_published_privacy covers allergies (its docstring says so;
    this keeps it true)."""
    from test_published_privacy import MIN_CHARS, personal_values

    db = sqlite3.connect(small_source_file)
    try:
        allergies = {
            a.lower()
            for (a,) in db.execute("select allergies from health_healthprofile")
            if a and len(a) >= MIN_CHARS
        }
    finally:
        db.close()
    assert allergies, "the small source has allergy texts to search for"
    assert allergies <= personal_values(small_source_file)


def test_the_calorie_check_finds_a_leak(small_source_file, tmp_path):
    """The check is not blind: a relation pairing users (or their orders) with their
    targets is found, whatever its column names; one with a few chance pairs is not."""
    truth = calorie_truth(small_source_file)
    assert len(truth["user"]) >= 20
    con = duckdb.connect(str(tmp_path / "leak.duckdb"))
    con.execute("create schema marts")
    con.execute("create table marts.leaky (customer_id bigint, figure integer, note varchar)")
    con.executemany("insert into marts.leaky values (?, ?, 'x')", sorted(truth["user"]))
    con.execute("create table marts.by_order (order_id bigint, amount decimal(12, 2))")
    con.executemany("insert into marts.by_order values (?, ?)", sorted(truth["order"]))
    con.execute("create table marts.chance (user_id bigint, total decimal(12, 2))")
    con.executemany("insert into marts.chance values (?, ?)", sorted(truth["user"])[:2])
    found = calorie_pairs(con, truth)
    assert any(k.startswith('"marts"."leaky" (customer_id, figure, by user)') for k in found)
    assert any(k.startswith('"marts"."by_order" (order_id, amount, by order)') for k in found)
    assert not any("chance" in k for k in found), found


def test_no_published_relation_ties_a_calorie_target_to_a_person(catalog, small_source_file):
    truth = calorie_truth(small_source_file)
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        relations = _relations(con)
        assert any("fct_health_goals" in r for r in relations), sorted(relations)
        assert calorie_pairs(con, truth) == {}
        named = {
            f"{relation}.{column}"
            for relation, columns in relations.items()
            for column in columns
            if any(word in column.lower() for word in HEALTH_WORDS)
        }
        assert named == set()
    finally:
        con.close()


def test_staff_appear_only_as_aggregates(catalog, small_source_file):
    db = sqlite3.connect(small_source_file)
    try:
        staff = {
            name
            for sql in (
                "select rider_name from delivery_delivery",
                "select nutritionist_name from nutrition_consultation",
                "select assigned_agent from support_ticket",
            )
            for (name,) in db.execute(sql)
            if name
        }
    finally:
        db.close()
    assert len(staff) >= 5
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        where = set()
        for relation, columns in _relations(con).items():
            for column, kind in columns.items():
                if kind != "VARCHAR":
                    continue
                values = {
                    v
                    for (v,) in con.execute(
                        f'select distinct "{column}" from {relation}'
                    ).fetchall()
                }
                if values & staff:
                    where.add((relation.split(".")[-1].strip('"'), column))
        # Staff names are published, in the staff marts' name column only ...
        assert where and where <= set(STAFF_MARTS.items()), sorted(where)
        # ... whose rows are aggregates: no person or event is named beside them.
        for mart in STAFF_MARTS:
            columns = next(c for r, c in _relations(con).items() if r.endswith(f'"{mart}"'))
            assert not set(columns) & ROW_IDENTIFIERS, (mart, sorted(columns))
    finally:
        con.close()
