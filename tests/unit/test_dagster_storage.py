"""`mealytics run`'s Dagster event log (pipelines.dagster_storage): Dagster's SQLite event log
with one engine per shard, read back by Dagster's own class as `make dev`'s webserver does."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.dagster_storage import LocalEventLogStorage
from pipelines.errors import InstanceStorageError
from pipelines.run import _event_log_override, cli_instance
from pipelines.settings import Settings


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="numbers")])
def numbers():
    yield dg.Output([1, 2, 3])
    yield dg.AssetCheckResult(passed=True)


@dg.asset
def total(numbers):
    return sum(numbers)


def _settings(home):
    return Settings.from_env({"DAGSTER_HOME": str(home)})


def test_runs_stored_by_the_cli_read_back_by_dagster_s_own_storage(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = cli_instance(_settings(home))
    assert isinstance(instance.event_log_storage, LocalEventLogStorage)
    result = dg.materialize([numbers, total], instance=instance)
    assert result.success
    run_id = result.run_id
    ours = [e.dagster_event_type for e in instance.all_logs(run_id) if e.is_dagster_event]
    engines = instance.event_log_storage._engines
    assert set(engines) == {run_id, "index"}  # one engine per shard, kept
    instance.dispose()

    theirs = dg.DagsterInstance.from_config(str(home))  # `make dev`'s: Dagster's own class
    assert type(theirs.event_log_storage).__name__ == "SqliteEventLogStorage"
    assert [e.dagster_event_type for e in theirs.all_logs(run_id) if e.is_dagster_event] == ours
    materialized = theirs.get_latest_materialization_event(dg.AssetKey("total"))
    assert materialized is not None and materialized.run_id == run_id
    check = theirs.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("numbers"), "positive")])
    assert list(check.values())[0].run_id == run_id
    assert dg.DagsterEventType.ASSET_CHECK_EVALUATION in ours


def test_a_configured_storage_is_left_alone(tmp_path):
    (tmp_path / "dagster.yaml").write_text("storage:\n  sqlite:\n    base_dir: x\n")
    assert _event_log_override(tmp_path) is None
    (tmp_path / "dagster.yaml").write_text("concurrency:\n  runs:\n    max_concurrent_runs: 1\n")
    assert _event_log_override(tmp_path)["event_log_storage"]["class"] == "LocalEventLogStorage"


def test_a_damaged_instance_is_one_clear_error(tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "runs.db").write_bytes(b"not a database" * 100)
    with pytest.raises(InstanceStorageError, match="cannot be read"):
        cli_instance(_settings(tmp_path))
