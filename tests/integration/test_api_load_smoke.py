"""The load test's harness (benchmarks/api_load.py) still runs: a few clients for a few
seconds on the API tests' small warehouse, one publication during the load. A smoke test,
not a timed assertion: no error, every answer from a published version, every endpoint
asked."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import api_support

ROOT = Path(__file__).resolve().parents[2]


def _harness():
    spec = importlib.util.spec_from_file_location("api_load", ROOT / "benchmarks" / "api_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def test_the_load_harness_runs(tmp_path):
    api_load = _harness()
    # every endpoint /openapi.json lists must answer: with request 000's views (branch
    # i18-analytics) their marts too, else the loyalty ones
    build = getattr(api_support, "build_analytics_warehouse", api_support.build_warehouse)
    warehouse = build(tmp_path)
    result = api_load.load(3, 3.0, [warehouse, warehouse], work=tmp_path / "work")
    assert result["errors"] == 0, result["error_examples"]
    assert result["unknown_versions"] == 0
    assert len(result["versions_published"]) == 2  # the first, and one during the load
    assert result["requests"] > 0 and all(row["n"] > 0 for row in result["endpoints"])
    assert list((tmp_path / "work").glob("run-*/results.json"))
