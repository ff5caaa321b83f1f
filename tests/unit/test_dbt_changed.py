"""Only what changed (issue 16.2): the plan of a run's dbt build from the change log, as_of,
the code and the last build that succeeded whole (`pipelines.defs.dbt.changed`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.dbt import changed
from pipelines.defs.dbt.assets import exclude_nodes

# raw.a -> stg_a -> int_ab -> fct_ab; raw.b -> stg_b -> int_ab; raw.c -> stg_c -> fct_c;
# a seed read by fct_c; a test on fct_ab.
MANIFEST = {
    "sources": {
        f"source.p.raw.{t}": {"source_name": "raw", "name": t} for t in ("a", "b", "c")
    },
    "nodes": {
        "model.p.stg_a": {"resource_type": "model", "name": "stg_a"},
        "model.p.stg_b": {"resource_type": "model", "name": "stg_b"},
        "model.p.stg_c": {"resource_type": "model", "name": "stg_c"},
        "model.p.int_ab": {"resource_type": "model", "name": "int_ab"},
        "model.p.fct_ab": {"resource_type": "model", "name": "fct_ab"},
        "model.p.fct_c": {"resource_type": "model", "name": "fct_c"},
        "seed.p.rates": {"resource_type": "seed", "name": "rates"},
        "test.p.not_null_fct_ab": {"resource_type": "test", "name": "not_null_fct_ab"},
    },
    "child_map": {
        "source.p.raw.a": ["model.p.stg_a"],
        "source.p.raw.b": ["model.p.stg_b"],
        "source.p.raw.c": ["model.p.stg_c"],
        "model.p.stg_a": ["model.p.int_ab"],
        "model.p.stg_b": ["model.p.int_ab"],
        "model.p.stg_c": ["model.p.fct_c"],
        "model.p.int_ab": ["model.p.fct_ab"],
        "model.p.fct_ab": ["test.p.not_null_fct_ab"],
        "seed.p.rates": ["model.p.fct_c"],
    },
    "parent_map": {
        "model.p.stg_a": ["source.p.raw.a"],
        "model.p.stg_b": ["source.p.raw.b"],
        "model.p.stg_c": ["source.p.raw.c"],
        "model.p.int_ab": ["model.p.stg_b", "model.p.stg_a"],
        "model.p.fct_ab": ["model.p.int_ab"],
        "model.p.fct_c": ["model.p.stg_c", "seed.p.rates"],
        "seed.p.rates": [],
    },
}
ARGS = dict(fingerprint="f1", vars_="{}", as_of="2026-03-01", today_so_far=False,
            full_refresh=False, whole=True)


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema raw; create schema meta")
    con.execute("create table raw.accounts_website (id int, timezone varchar)")
    con.execute("insert into raw.accounts_website values (1, 'Africa/Kampala'), "
                "(2, 'Africa/Lagos'), (3, 'Africa/Lagos')")
    con.execute("create sequence meta._change_seq")
    con.execute("create table meta._changes (seq bigint, table_name varchar, op varchar)")
    con.close()
    return path


def _log(path, *tables):
    con = duckdb.connect(str(path))
    for table in tables:
        con.execute("insert into meta._changes values (nextval('meta._change_seq'), ?, 'update')",
                    [table])
    con.close()


def _build(path, plan):
    con = duckdb.connect(str(path))
    changed.record_build(con, plan.state, plan.kind, 1)
    con.close()


def _prune(path):
    con = duckdb.connect(str(path))
    con.execute("delete from meta._changes")
    con.close()


def test_the_first_build_is_whole_and_then_only_changed_tables_count(warehouse):
    _log(warehouse, "a", "c")
    first = changed.plan(warehouse, MANIFEST, **ARGS)
    assert (first.kind, first.reason) == ("all", "no earlier build that succeeded whole")
    assert first.state.changes_through == 2 and first.state.as_of == {"*": "2026-03-01"}
    _build(warehouse, first)
    _prune(warehouse)  # the models read the log: its own maximum goes back, not the sequence

    nothing = changed.plan(warehouse, MANIFEST, **ARGS)
    assert nothing.kind == "none" and nothing.state.changes_through == 2
    assert set(nothing.unchanged) == {uid for uid, n in MANIFEST["nodes"].items()
                                      if n["resource_type"] != "test"}

    _log(warehouse, "b")
    some = changed.plan(warehouse, MANIFEST, **ARGS)
    assert some.kind == "some" and some.changed_tables == ["b"]
    assert some.exclude == ["fct_c", "rates", "stg_a", "stg_c"]
    # parents first: what Dagster requires of one step's materializations
    order = some.unchanged
    assert order.index("model.p.stg_c") < order.index("model.p.fct_c")
    assert order.index("seed.p.rates") < order.index("model.p.fct_c")
    _build(warehouse, some)

    _log(warehouse, "a", "b", "c")
    assert changed.plan(warehouse, MANIFEST, **ARGS).exclude == ["rates"]  # a seed is code
    _build(warehouse, changed.plan(warehouse, MANIFEST, **ARGS))
    _log(warehouse, "audit_log")  # a raw table no model reads
    plan = changed.plan(warehouse, MANIFEST, **ARGS)
    assert (plan.kind, plan.reason) == ("none", "no model reads the raw table(s) that changed: "
                                                "audit_log")


@pytest.mark.parametrize(
    "override, reason",
    [
        ({"as_of": "2026-03-02"}, "as_of changed"),
        ({"fingerprint": "f2"}, "the dbt project changed"),
        ({"vars_": '{"churn_days": 30}'}, "the dbt vars changed"),
        ({"full_refresh": True}, "full refresh"),
        ({"whole": False}, "a chosen subset of assets"),
        ({"only_changed": False}, "every model asked for (only_changed off)"),
    ],
)
def test_anything_else_that_differs_builds_everything(warehouse, override, reason):
    _build(warehouse, changed.plan(warehouse, MANIFEST, **ARGS))
    plan = changed.plan(warehouse, MANIFEST, **{**ARGS, **override})
    assert (plan.kind, plan.reason) == ("all", reason)
    assert plan.record is (reason != "a chosen subset of assets")


def test_a_warehouse_whose_log_went_back_builds_everything(warehouse):
    _log(warehouse, "a", "a", "a")
    _build(warehouse, changed.plan(warehouse, MANIFEST, **ARGS))
    con = duckdb.connect(str(warehouse))
    con.execute("delete from meta._changes; drop sequence meta._change_seq; "
                "create sequence meta._change_seq")  # as a restored older copy would be
    con.close()
    _log(warehouse, "b")
    assert changed.plan(warehouse, MANIFEST, **ARGS).reason == (
        "the change log went back (a restored warehouse)")


def test_a_warehouse_without_a_change_log_builds_everything(tmp_path):
    path = tmp_path / "old.duckdb"
    duckdb.connect(str(path)).close()
    assert changed.plan(path, MANIFEST, **ARGS).reason == "no change log in the warehouse yet"


def test_the_default_as_of_is_each_zone_s_yesterday_or_today(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    now = dt.datetime.now(dt.UTC)
    try:
        yesterday = changed.effective_as_of(con, None, today_so_far=False)
        today = changed.effective_as_of(con, None, today_so_far=True)
    finally:
        con.close()
    import zoneinfo

    for zone in ("Africa/Kampala", "Africa/Lagos"):
        local = now.astimezone(zoneinfo.ZoneInfo(zone)).date()
        assert today[zone] in (str(local), str(local + dt.timedelta(days=1)))  # midnight
        assert dt.date.fromisoformat(today[zone]) - dt.date.fromisoformat(yesterday[zone]) \
            == dt.timedelta(days=1)
    assert sorted(today) == ["Africa/Kampala", "Africa/Lagos"]


def test_the_fingerprint_follows_every_file_dbt_parses(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    (tmp_path / "models" / "a.sql").write_text("select 1")
    first = changed.code_fingerprint(tmp_path)
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text("{}")  # dbt's output: not code
    assert changed.code_fingerprint(tmp_path) == first
    (tmp_path / "models" / "a.sql").write_text("select 2")
    assert changed.code_fingerprint(tmp_path) != first


def test_the_fingerprint_follows_the_python_the_dbt_python_models_call(tmp_path):
    project, module = tmp_path / "project", tmp_path / "predict"
    (project / "models").mkdir(parents=True)
    (project / "models" / "a.py").write_text("from pipelines.predict import clv\n")
    module.mkdir()
    (module / "clv.py").write_text("R = 1\n")
    (module / "__pycache__").mkdir()
    first = changed.code_fingerprint(project, module)
    (module / "__pycache__" / "clv.pyc").write_bytes(b"compiled")  # not code
    assert changed.code_fingerprint(project, module) == first
    (module / "clv.py").write_text("R = 2\n")
    assert changed.code_fingerprint(project, module) != first
    assert changed.PYTHON_MODEL_CODE == Path(changed.__file__).parents[2] / "predict"


def test_excluded_nodes_join_the_one_exclude_flag():
    base = ["build", "--exclude", "resource_type:unit_test", "--vars", "{}"]
    assert exclude_nodes(base, ["a", "b"]) == [
        "build", "--exclude", "resource_type:unit_test a b", "--vars", "{}"]
    assert exclude_nodes(["build"], ["a"]) == ["build", "--exclude", "a"]
    assert exclude_nodes(base, []) == base
