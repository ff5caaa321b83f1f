"""A run publishes only what it can vouch for (issue 15, item 1).

A previous publication is in place (the suite's first build); a run over a second, different
build then either publishes all of it or none of it. "All of it" is the published DuckDB,
the Parquet files and the dashboard, compared by content; a refused run leaves the three
byte for byte as they were, and `mealytics run`'s summary says in one line why.

The runs are real Dagster runs through `pipelines.run.execute` (what `mealytics run` calls),
with the real publish assets and warehouse resource; extraction and dbt are stand-ins (the
build files are already built), named like the real steps so the run config fits, and one
check on a mart that passes or fails at the severity the test asks for.
"""

import hashlib
import io
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from reliability_support import mart_hashes
from rich.console import Console

from pipelines import run
from pipelines.defs.publish import build_publish_assets
from pipelines.defs.resources import Warehouse
from pipelines.defs.schedules import all_assets_job

MART = dg.AssetKey(["marts", "fct_daily_snapshot"])
RAW = dg.AssetKey(["raw", "orders_order"])
CHECK = "checked_on_purpose"


class _StepConfig(dg.Config):
    full_refresh: bool = False
    as_of: str | None = None


def _definitions(build: Path, out: Path, *, check: str | None, fail_step: bool = False):
    """raw_tables → dbt_models (stand-ins) → publish, with one check on the mart that
    fails at severity `check` (None: passes)."""

    @dg.multi_asset(specs=[dg.AssetSpec(RAW)], name="raw_tables")
    def raw_tables(config: _StepConfig):
        yield dg.MaterializeResult(asset_key=RAW)

    @dg.multi_asset(specs=[dg.AssetSpec(MART, deps=[RAW])], name="dbt_models")
    def dbt_models(config: _StepConfig):
        if fail_step:
            raise RuntimeError("dbt build failed on purpose")
        yield dg.MaterializeResult(asset_key=MART)

    @dg.asset_check(asset=MART, name=CHECK)
    def checked_on_purpose():
        if check is None:
            return dg.AssetCheckResult(passed=True)
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity[check], description="on purpose"
        )

    return dg.Definitions(
        assets=[raw_tables, dbt_models, *build_publish_assets([MART])],
        asset_checks=[checked_on_purpose],
        jobs=[all_assets_job()],
        resources={"warehouse": Warehouse(path=str(build), publish_dir=str(out))},
        executor=dg.in_process_executor,
    )


def _execute(build: Path, out: Path, **kwargs) -> tuple[run.RunReport, str]:
    report = run.execute(
        defs=_definitions(build, out, **kwargs),
        instance=dg.DagsterInstance.ephemeral(),
        progress=False,
    )
    console = Console(file=io.StringIO(), width=200, no_color=True)
    run.print_summary(report, console)
    return report, console.file.getvalue()


def published_state(out: Path) -> dict:
    """What readers see at the published paths: every mart of the DuckDB copy and of the
    Parquet files (rows, hash of every row), and the dashboard's bytes."""
    con = duckdb.connect()
    try:
        parquet = {
            path.stem: con.execute(
                f"select count(*), coalesce(sum(hash(t)), 0)::varchar from read_parquet('{path}') t"
            ).fetchone()
            for path in sorted((out / "parquet").glob("*.parquet"))
        }
    finally:
        con.close()
    return {
        "duckdb": mart_hashes(out / "published.duckdb"),
        "parquet": parquet,
        "dashboard": hashlib.sha256((out / "dashboard.html").read_bytes()).hexdigest(),
    }


@pytest.fixture
def previous(two_builds, tmp_path) -> tuple[Path, dict]:
    """A publish folder holding the first build's publication, and its state."""
    first, _ = two_builds
    out = tmp_path / "out"
    report, summary = _execute(first, out, check=None)
    assert report.exit_code == 0, summary
    state = published_state(out)
    assert len(state["parquet"]) > 20 and state["parquet"].keys() == state["duckdb"].keys()
    return out, state


def test_an_error_check_keeps_the_previous_publication_whole(two_builds, previous):
    _, second = two_builds
    out, before = previous
    report, summary = _execute(second, out, check="ERROR")
    assert report.exit_code == 1
    assert published_state(out) == before
    assert f"not published: check {CHECK} on marts/fct_daily_snapshot failed (ERROR)" in (
        summary.splitlines()
    )
    assert not report.outputs  # nothing listed as written


def test_a_warn_check_publishes_and_is_named(two_builds, previous):
    _, second = two_builds
    out, before = previous
    report, summary = _execute(second, out, check="WARN")
    after = published_state(out)
    assert after["duckdb"] == mart_hashes(second)
    assert after["duckdb"]["fct_daily_snapshot"] != before["duckdb"]["fct_daily_snapshot"]
    assert after["parquet"] == after["duckdb"]  # the Parquet files are the same marts
    assert after["dashboard"] != before["dashboard"]
    assert f"published with failed WARN checks: marts/fct_daily_snapshot {CHECK}" in (
        summary.splitlines()
    )
    assert report.exit_code == 1  # a failed WARN check still fails the command (issue 5)


def test_a_failed_step_keeps_the_previous_publication_and_is_named(two_builds, previous):
    _, second = two_builds
    out, before = previous
    report, summary = _execute(second, out, check=None, fail_step=True)
    assert report.exit_code == 1
    assert published_state(out) == before
    assert "not published: step dbt_models failed" in summary.splitlines()


def test_a_failure_while_publishing_keeps_the_previous_publication_whole(
    two_builds, previous, monkeypatch
):
    """The dashboard cannot be rendered (after the Parquet files and the copy were written,
    in the order the run writes them): readers keep the previous version of all three."""
    from pipelines.publish import dashboard

    _, second = two_builds
    out, before = previous

    def broken(payload):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dashboard, "render", broken)
    result = dg.materialize(
        build_publish_assets([MART]),
        resources={"warehouse": Warehouse(path=str(second), publish_dir=str(out))},
        raise_on_error=False,
    )
    assert not result.success
    assert published_state(out) == before


def test_the_three_outputs_are_one_version(two_builds, previous):
    """The reader paths all lead into one version folder, whose version.json counts the
    rows that the Parquet files and the DuckDB copy hold."""
    import json

    out, state = previous
    folders = {Path(os.path.realpath(out / name)).parent for name in (
        "published.duckdb", "dashboard.html", "parquet/fct_daily_snapshot.parquet"
    )}
    folders = {f.parent if f.name == "parquet" else f for f in folders}
    assert len(folders) == 1, folders
    (folder,) = folders
    assert Path(os.path.realpath(out / "publish" / "current")) == folder
    manifest = json.loads((folder / "version.json").read_text())
    assert manifest["version"] == folder.name
    assert manifest["rows_per_mart"] == {m: rows for m, (rows, _) in state["parquet"].items()}
    assert {m: rows for m, (rows, _) in state["duckdb"].items()} == manifest["rows_per_mart"]
