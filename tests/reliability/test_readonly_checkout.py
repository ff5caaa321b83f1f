"""`mealytics run` from a read-only checkout writes nothing into the code tree, and keeps
dbt's target, logs and run artifacts beside the warehouse, pruned (issue 15, item 6).

Every run used to leave a ~26 MB `dbt_project/target/dbt_models-*` folder in the code tree
(9.5 GB a year of daily runs), and a read-only checkout failed every run. The test copies
the repository's files (`git ls-files`), makes the copy read-only and runs the real command
from it (`python -m pipelines.cli`, the copy first on PYTHONPATH, the suite's venv):

- as root (CI), a read-only bind mount of the copy: `chmod` does not stop root, a
  read-only mount does (EROFS for every write, root's included);
- as any other user, `chmod -R a-w`, which that user cannot write past.

The warehouse folder starts with three older dbt invocation folders and run logs and
`MEALYTICS_DBT_KEEP_RUNS=2`: after the run the two newest of each remain.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from reliability_support import AS_OF

ROOT = Path(__file__).resolve().parents[2]


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [f for f in listed.split("\0") if f and (ROOT / f).is_file()]


def _snapshot(tree: Path) -> dict[str, str]:
    """path → hash of every file (and folder) under `tree`."""
    out = {}
    for path in sorted(tree.rglob("*")):
        key = str(path.relative_to(tree))
        out[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@contextlib.contextmanager
def _read_only(tree: Path) -> Iterator[str]:
    """`tree` read-only for the block; yields how."""
    if os.geteuid() != 0:
        for path in [tree, *tree.rglob("*")]:
            path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
        try:
            yield "chmod -R a-w"
        finally:
            for path in [tree, *tree.rglob("*")]:
                path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o200)
        return
    subprocess.run(["mount", "--bind", str(tree), str(tree)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(tree)], check=True)
        yield "read-only bind mount"
    finally:
        subprocess.run(["umount", str(tree)], check=False)


def test_mealytics_run_from_a_read_only_checkout(small_source_file, tmp_path):
    checkout = tmp_path / "checkout"
    for name in _tracked_files():
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    assert (checkout / "dbt_project" / "dbt_project.yml").is_file()
    assert not (checkout / "dbt_project" / "target").exists()

    scene = tmp_path / "scene"
    warehouse = scene / "data" / "warehouse.duckdb"
    runs = warehouse.parent / "dbt" / "runs"
    logs = warehouse.parent / "logs"
    old = time.time() - 3600
    for n in range(3):  # three earlier runs' dbt folders and logs, oldest first
        folder = runs / f"dbt_models-old{n}-0000000"
        folder.mkdir(parents=True)
        (folder / "run_results.json").write_text("{}")
        log = logs / f"run-2026010{n}T000000.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("old")
        for path in (folder, log):
            os.utime(path, (old + n, old + n))
    home = scene / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MEALYTICS_", "DBT_"))},
        "PYTHONPATH": str(checkout),
        "PYTHONDONTWRITEBYTECODE": "1",
        "MEALYTICS_SOURCE_URL": f"sqlite:///{small_source_file}",
        "MEALYTICS_WAREHOUSE": str(warehouse),
        "MEALYTICS_DBT_KEEP_RUNS": "2",
        "DAGSTER_HOME": str(home),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    before = _snapshot(checkout)
    with _read_only(checkout) as how:
        probe = checkout / "probe"
        try:
            probe.write_text("x")
            written = True
        except OSError:
            written = False
        assert not written, f"the checkout is writable despite the {how}"
        done = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "-q", "run", "--as-of", AS_OF],
            cwd=scene,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Traceback" not in output
    assert _snapshot(checkout) == before  # nothing written, changed or removed
    # The code really came from the checkout.
    assert str(checkout) in subprocess.run(
        [sys.executable, "-c", "import pipelines; print(pipelines.__file__)"],
        cwd=scene, env=env, capture_output=True, text=True, check=True,
    ).stdout
    manifest = warehouse.parent / "dbt" / "target" / "manifest.json"
    assert str(checkout / "dbt_project") in manifest.read_text()
    # dbt's parse and its run artifacts beside the warehouse, the older ones pruned.
    artifacts = warehouse.parent / "dbt"
    assert (artifacts / "target" / "manifest.json").is_file()
    kept = {p.name for p in runs.iterdir()}
    assert len(kept) == 2 and "dbt_models-old2-0000000" in kept, kept
    (name,) = kept - {"dbt_models-old2-0000000"}
    new = runs / name
    assert name.startswith("dbt_models-") and (new / "run_results.json").stat().st_size > 1000
    assert (new / "dbt.log").is_file()
    kept_logs = sorted(p.name for p in logs.iterdir())
    assert len(kept_logs) == 2 and kept_logs[0] == "run-20260102T000000.log", kept_logs
