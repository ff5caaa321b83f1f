"""Reflection once per run: offered plans serve one run, briefly; a run keeps its plans."""

from __future__ import annotations

from pipelines.extract.catalog import PlanCatalog, source_key
from pipelines.extract.plan import TablePlan, TableSelection


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _plans(*names: str) -> list[TablePlan]:
    return [TablePlan(n, (), ("id",), "merge", "updated_at", "sqlite") for n in names]


def test_offered_plans_serve_the_next_run_once():
    catalog = PlanCatalog(clock=Clock())
    key = source_key("sqlite:///a.db", None)
    catalog.offer(key, _plans("orders"))
    assert [p.name for p in catalog.take(key)] == ["orders"]
    assert catalog.take(key) is None  # a later run reflects again


def test_offered_plans_expire():
    clock = Clock()
    catalog = PlanCatalog(max_age_s=60, clock=clock)
    key = source_key("sqlite:///a.db", None)
    catalog.offer(key, _plans("orders"))
    clock.now += 61
    assert catalog.take(key) is None


def test_offers_are_per_source_and_selection():
    catalog = PlanCatalog(clock=Clock())
    catalog.offer(source_key("postgresql://u:one@h/db", None), _plans("a"))
    assert catalog.take(source_key("postgresql://u:two@h/db", None)) is None
    only = TableSelection(include=("orders_*",))
    assert catalog.take(source_key("postgresql://u:one@h/db", only)) is None
    assert catalog.take(source_key("postgresql://u:one@h/db", TableSelection())) is not None


def test_a_run_keeps_its_plans_for_its_checks():
    catalog = PlanCatalog(keep_runs=2, clock=Clock())
    catalog.keep("run-1", _plans("a", "b"))
    assert sorted(catalog.for_run("run-1")) == ["a", "b"]
    assert catalog.for_run("run-2") == {}
    catalog.keep("run-2", _plans("c"))
    catalog.keep("run-3", _plans("d"))
    assert catalog.for_run("run-1") == {}  # only the latest runs are kept
    assert sorted(catalog.for_run("run-3")) == ["d"]
