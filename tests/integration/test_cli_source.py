"""`mealytics source …` as a user runs it: the real console command in a subprocess.

A mistake (a bad argument, an unreachable server, a non-empty target without --force)
ends with exactly one line on stderr, a non-zero exit, and the target as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from models import TABLES
from seeds.invariants import check_invariants

#: The venv's console script, next to the interpreter that runs the tests.
MEALYTICS = str(Path(sys.executable).parent / "mealytics")
SMALL = ["--customers", "300", "--days", "20", "--seed", "7", "--start", "2026-01-05"]
UNREACHABLE = "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x"


def mealytics(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEALYTICS_")}
    return subprocess.run(
        [MEALYTICS, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mealytics"), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def fingerprint(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def row_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in TABLES
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A small SQLite source written by the command itself (with its progress output)."""
    workdir = tmp_path_factory.mktemp("cli")
    path = workdir / "source.db"
    result = mealytics("source", "generate", *SMALL, "--url", f"sqlite:///{path}", cwd=workdir)
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def source(generated, tmp_path) -> Path:
    """A private copy of the generated source, for a test that may change it."""
    path = tmp_path / "source.db"
    shutil.copy2(generated, path)
    return path


def test_generate_then_advance(source, tmp_path):
    url = f"sqlite:///{source}"
    assert check_invariants(url) == []
    before = row_counts(url)
    assert before["accounts_user"] >= 300 and before["orders_order"] > 0
    result = mealytics("-q", "source", "advance", "--days", "2", "--url", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert check_invariants(url) == []
    assert row_counts(url)["orders_order"] > before["orders_order"]


def test_generate_force_replaces_a_non_empty_target(source, tmp_path):
    url = f"sqlite:///{source}"
    result = mealytics(
        "-q", "source", "generate", *SMALL[:-4], "--seed", "8", "--start", "2026-01-05",
        "--url", url, "--force", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert check_invariants(url) == []


@pytest.mark.parametrize(
    "args",
    [
        ["source", "advance", "--days", "-1"],
        ["source", "advance", "--days", "0"],
        ["source", "generate", "--days", "-5"],
        ["source", "generate", "--customers", "0"],
        ["source", "generate", "--start", "2026-13-01"],
        ["source", "generate", "--seed", "-1"],
    ],
    ids=["advance-negative-days", "advance-zero-days", "generate-negative-days",
         "generate-no-customers", "generate-bad-start", "generate-negative-seed"],
)  # fmt: skip
def test_a_bad_argument_is_one_line_exit_2_and_changes_nothing(source, tmp_path, args):
    before = fingerprint(source)
    result = mealytics(*args, "--url", f"sqlite:///{source}", cwd=tmp_path)
    line = assert_one_line_error(result, 2)
    assert args[2] in line
    assert fingerprint(source) == before


@pytest.mark.parametrize("command", ["generate", "advance"])
def test_an_unreachable_server_is_one_line_exit_1(tmp_path, command):
    extra = SMALL if command == "generate" else []
    result = mealytics("source", command, *extra, "--url", UNREACHABLE, cwd=tmp_path)
    line = assert_one_line_error(result, 1)
    assert line.startswith("mealytics: error: ")
    assert "s3cret" not in result.stderr  # the password is masked
    assert "127.0.0.1" in line


def test_a_non_empty_target_without_force_is_refused(source, tmp_path):
    before = fingerprint(source)
    result = mealytics("source", "generate", *SMALL, "--url", f"sqlite:///{source}", cwd=tmp_path)
    line = assert_one_line_error(result, 1)
    assert "--force" in line
    assert fingerprint(source) == before


def test_advance_without_a_source_is_refused_and_creates_nothing(tmp_path):
    missing = tmp_path / "missing.db"
    result = mealytics("source", "advance", "--url", f"sqlite:///{missing}", cwd=tmp_path)
    assert_one_line_error(result, 1)
    assert not missing.exists()


@pytest.mark.postgres
def test_a_non_empty_postgresql_target_without_force_is_refused(postgres_url, tmp_path):
    result = mealytics("-q", "source", "generate", *SMALL, "--url", postgres_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    before = row_counts(postgres_url)
    again = mealytics("source", "generate", *SMALL, "--url", postgres_url, cwd=tmp_path)
    line = assert_one_line_error(again, 1)
    assert "--force" in line
    assert row_counts(postgres_url) == before
