"""The dbt project, with a manifest that matches its files, behind one cached function.

The manifest is parsed when it is missing or older than any file of the project (a fresh
clone, an edited model under `dagster dev`, `mealytics run`, the tests), so no step of the
README depends on a committed `target/`.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from dagster._utils import run_with_concurrent_update_guard
from dagster_dbt import DbtProject

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
#: What dbt reads when it parses; target/, logs/ and packages are its own output.
_PARSED = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "snapshots",
           "tests", "analyses", "packages.yml", "dependencies.yml")


def parsed_files(project_dir: Path) -> Iterator[Path]:
    """Every file dbt parses in `project_dir`, in a fixed order (`_PARSED`, then by path)."""
    for name in _PARSED:
        path = project_dir / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(child for child in path.rglob("*") if child.is_file())


def _newest_input(project_dir: Path) -> float:
    return max((path.stat().st_mtime for path in parsed_files(project_dir)), default=0.0)


def manifest_is_stale(project_dir: Path, manifest_path: Path) -> bool:
    """True when manifest.json is missing or older than a file dbt parses."""
    if not manifest_path.exists():
        return True
    return _newest_input(project_dir) > manifest_path.stat().st_mtime


def dbt_executable() -> str:
    """The `dbt` beside this Python (the venv's), so an unactivated venv still finds it."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def _parse(project: DbtProject) -> None:
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": str(project.target_path),
        "DBT_LOG_PATH": str(project.target_path),
    }
    done = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(project.project_dir),
         "--profiles-dir", str(project.profiles_dir)],
        cwd=project.project_dir, env=env, capture_output=True, text=True,
    )
    if done.returncode != 0 and os.strerror(errno.ENOSPC) in done.stdout + done.stderr:
        # A full disk is the user's to fix: one line naming the folder (the CLI says it).
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(project.target_path))
    if done.returncode != 0:
        raise RuntimeError(
            f"dbt parse failed in {project.project_dir}:\n"
            f"{done.stdout[-4000:]}{done.stderr[-2000:]}"
        )


def prune_runs(folder: str | Path, keep: int, pattern: str = "*") -> list[Path]:
    """Remove all but the `keep` newest entries of `folder` matching `pattern` (by
    modification time); returns those removed. A missing folder has nothing to prune."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    entries = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = entries[max(keep, 0):]
    for entry in removed:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return removed


#: dbt's saved parse of the project, in an invocation's target folder.
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def seed_partial_parse(runs_folder: str | Path, new_folder: str | Path) -> Path | None:
    """Copy the newest invocation's saved parse into a new invocation's folder, so dbt parses
    only the files that changed since (dbt checks the project, vars and profile itself and
    parses everything again when they differ). Returns the file copied from, if any."""
    runs = Path(runs_folder)
    saved = [
        p for p in (runs.glob(f"*/{PARTIAL_PARSE_FILE}") if runs.is_dir() else [])
        if p.parent != Path(new_folder)
    ]
    if not saved:
        return None
    newest = max(saved, key=lambda p: p.stat().st_mtime)
    Path(new_folder).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(newest, Path(new_folder) / PARTIAL_PARSE_FILE)
    return newest


@functools.cache
def dbt_project(
    project_dir: str | Path | None = None, artifacts_dir: str | Path | None = None
) -> DbtProject:
    """The dbt project at `project_dir` (default: the repository's), its manifest prepared.

    `artifacts_dir` (`Settings.dbt_artifacts`: `dbt/` beside the warehouse) holds the parse's
    target (manifest, partial parse, dbt.log) in `target/`, so the code tree is only read;
    None keeps dbt's own `target/` inside the project (tests that build a copy of it).
    """
    path = Path(project_dir or DBT_PROJECT_DIR).resolve()
    target = Path(artifacts_dir).resolve() / "target" if artifacts_dir else Path("target")
    project = DbtProject(project_dir=path, profiles_dir=path, target_path=target)
    # Not `project.prepare_if_dev()`: its preparer looks for `dbt` on PATH, which an
    # unactivated venv lacks; parsing whenever a file changed serves `dagster dev` as well.
    if manifest_is_stale(project.project_dir, project.manifest_path):
        log.info("parsing the dbt project %s (manifest missing or outdated)", path)
        project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        # One parse at a time per manifest, as dagster-dbt's own preparer does.
        run_with_concurrent_update_guard(project.manifest_path, _parse, project=project)
    return project
