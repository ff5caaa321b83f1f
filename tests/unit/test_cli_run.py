"""`mealytics run` and `mealytics demo` hand their options to the run, and exit with it."""

import datetime as dt

import pytest

from pipelines import cli, run


@pytest.fixture
def calls(monkeypatch, tmp_path):
    seen = []

    def fake_execute(**kwargs):
        seen.append(kwargs)
        report = run.RunReport(run_id="0" * 32, success=not kwargs.get("full_refresh"))
        return report

    monkeypatch.setattr(run, "execute", fake_execute)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEALYTICS_AS_OF", raising=False)
    monkeypatch.setenv("MEALYTICS_WAREHOUSE", str(tmp_path / "w.duckdb"))
    return seen


def test_run_passes_as_of_and_full_refresh(calls):
    assert cli.main(["-q", "run", "--as-of", "2026-01-31"]) == 0
    assert calls[-1]["as_of"] == dt.date(2026, 1, 31)
    assert calls[-1]["full_refresh"] is False
    assert calls[-1]["progress"] is False
    assert cli.main(["-q", "run", "--full-refresh"]) == 1  # the fake run fails then
    assert calls[-1]["full_refresh"] is True
    assert calls[-1]["as_of"] is None


def test_as_of_from_the_environment_reaches_the_run_through_the_settings(calls, monkeypatch):
    """The command line fills only the run config (`--as-of`); MEALYTICS_AS_OF travels in
    the settings the definitions are built from, as for a scheduled or UI run."""
    monkeypatch.setenv("MEALYTICS_AS_OF", "2026-02-02")
    assert cli.main(["-q", "run"]) == 0
    assert calls[-1]["as_of"] is None
    assert calls[-1]["config"].as_of == dt.date(2026, 2, 2)
    assert cli.main(["-q", "run", "--as-of", "2026-02-03"]) == 0
    assert calls[-1]["as_of"] == dt.date(2026, 2, 3)


def test_bad_as_of(calls, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--as-of", "tomorrow"])
    assert exit_.value.code == 2
    monkeypatch.setenv("MEALYTICS_AS_OF", "soon")
    assert cli.main(["run"]) == 2
    assert "MEALYTICS_AS_OF" in capsys.readouterr().err
    assert not calls


def test_exit_code_is_non_zero_on_any_failure():
    ok = run.RunReport(run_id="r", success=True)
    ok.checks.append(run.CheckOutcome("raw/orders_order", "row_count", True, "WARN"))
    assert ok.exit_code == 0
    # A failed WARN check fails the command too (issue 5), as does an ERROR one.
    warn = run.RunReport(run_id="r", success=True)
    warn.checks.append(run.CheckOutcome("raw/orders_order", "row_count", False, "WARN"))
    assert warn.exit_code == 1
    error = run.RunReport(run_id="r", success=True)
    error.checks.append(run.CheckOutcome("marts/x", "unique_x", False, "ERROR"))
    assert error.exit_code == 1
    assert run.RunReport(run_id="r", success=False).exit_code == 1
    step = run.RunReport(run_id="r", success=True, failures=[("dbt_models", "boom")])
    assert step.exit_code == 1


def test_summary_names_each_failed_check_and_its_severity():
    import io

    from rich.console import Console

    report = run.RunReport(run_id="a" * 32, success=True)
    report.checks += [
        run.CheckOutcome("raw/orders_order", "row_count_matches_source", False, "WARN"),
        run.CheckOutcome("marts/dim_customers", "unique_dim_customers_user_id", False, "ERROR"),
        run.CheckOutcome("marts/dim_customers", "not_null_x", True, "ERROR"),
    ]
    console = Console(file=io.StringIO(), width=200, color_system=None)
    run.print_summary(report, console)
    lines = console.file.getvalue().splitlines()
    assert "checks: 1 passed, 2 failed" in lines
    assert "  ✗ raw/orders_order row_count_matches_source (WARN)" in lines
    assert "  ✗ marts/dim_customers unique_dim_customers_user_id (ERROR)" in lines
    assert lines[-1].startswith("run aaaaaaaa failed: 0 assets materialized")


def test_demo_generates_a_missing_source_then_runs(calls, monkeypatch):
    import seeds

    generated = []
    exists = {"value": False}
    monkeypatch.setattr(seeds, "exists", lambda url: exists["value"])
    monkeypatch.setattr(seeds, "generate", lambda url, **kw: generated.append(url))
    assert cli.main(["-q", "demo"]) == 0
    assert len(generated) == 1 and len(calls) == 1
    exists["value"] = True
    assert cli.main(["-q", "demo"]) == 0
    assert len(generated) == 1 and len(calls) == 2


def test_summary_names_the_files_this_runs_publish_assets_wrote(tmp_path):
    from pathlib import Path

    from pipelines.defs.resources import Warehouse
    from pipelines.run import _published_outputs

    warehouse = str(tmp_path / "warehouse.duckdb")
    outputs = _published_outputs(
        Warehouse(path=warehouse), ["marts/dim_customers", "publish/dashboard"]
    )
    assert outputs == {"dashboard": Path(tmp_path) / "dashboard.html"}

    outputs = _published_outputs(
        Warehouse(path=warehouse, publish_dir=str(tmp_path / "out")),
        ["publish/warehouse", "publish/dashboard", "publish/parquet"],
    )
    assert outputs == {
        "published warehouse": tmp_path / "out" / "published.duckdb",
        "dashboard": tmp_path / "out" / "dashboard.html",
        "parquet": tmp_path / "out" / "parquet",
    }


def test_confirm_deletes_reaches_the_raw_run_config(calls):
    assert cli.main(["-q", "run", "--confirm-deletes", "orders_order", "accounts_user"]) == 0
    assert calls[-1]["confirm_deletes"] == ("orders_order", "accounts_user")
    config = run.run_config(confirm_deletes=calls[-1]["confirm_deletes"])
    assert config["ops"]["raw_tables"]["config"]["confirm_deletes"] == [
        "orders_order",
        "accounts_user",
    ]
    assert cli.main(["-q", "run"]) == 0
    assert calls[-1]["confirm_deletes"] == ()


@pytest.mark.parametrize(("text", "pct"), [("", 10.0), ("25", 25.0), ("2.5 %", 2.5), ("0", 0.0)])
def test_max_delete_share_from_the_environment(text, pct):
    from pipelines.defs.raw import RawExtractConfig
    from pipelines.settings import Settings

    settings = Settings.from_env({"MEALYTICS_MAX_DELETE_SHARE": text})
    assert settings.max_delete_pct == pct
    options = RawExtractConfig().options(delete_pct=settings.max_delete_pct)
    assert options.max_delete_share == pytest.approx(pct / 100)
    assert options.mass_delete_min_rows == 1000 and options.confirm_deletes == ()


@pytest.mark.parametrize("text", ["ten", "-1", "150"])
def test_a_bad_max_delete_share_names_the_variable(text):
    from pipelines.errors import SettingsError
    from pipelines.settings import Settings

    with pytest.raises(SettingsError, match="MEALYTICS_MAX_DELETE_SHARE"):
        Settings.from_env({"MEALYTICS_MAX_DELETE_SHARE": text})
