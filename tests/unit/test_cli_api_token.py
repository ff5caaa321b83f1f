"""`mealytics api token create|revoke|list`: a token printed once, stored hashed, revoked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines import cli
from pipelines.api import state

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api_state(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    monkeypatch.setenv("MEALYTICS_API_STATE", url)
    return url


def _created(capsys) -> tuple[str, str]:
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    return lines[0], lines[1]


def test_create_prints_the_id_then_the_token_which_verifies(api_state, capsys):
    assert cli.main(["api", "token", "create", "--role", "analyst", "--website", "2", "1"]) == 0
    heading, secret = _created(capsys)
    assert heading.startswith("API token 1 (analyst; 1, 2)")
    token = state.verify(state.open_state(api_state), secret)
    assert token is not None and token.id == 1 and token.websites == (1, 2)
    with state.open_state(api_state).connect() as con:
        stored = [tuple(row) for row in con.execute(sa.select(state.api_tokens))]
    assert secret not in repr(stored)


def test_an_admin_without_websites_sees_every_website(api_state, capsys):
    assert cli.main(["api", "token", "create", "--role", "admin"]) == 0
    heading, secret = _created(capsys)
    assert "(admin; every website)" in heading
    assert state.verify(state.open_state(api_state), secret).sees(12345)


def test_revoke_stops_the_token_and_list_shows_it(api_state, capsys):
    cli.main(["api", "token", "create", "--role", "admin"])
    _, secret = _created(capsys)
    assert cli.main(["api", "token", "revoke", "1"]) == 0
    assert capsys.readouterr().out.startswith("API token 1 revoked at ")
    assert state.verify(state.open_state(api_state), secret) is None
    assert cli.main(["api", "token", "list"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split("\t")[:3] == ["1", "admin", "all"] and "revoked" in line
    assert secret not in line


def test_revoking_an_unknown_token_is_one_line_exit_1(api_state, capsys):
    assert cli.main(["api", "token", "revoke", "7"]) == 1
    assert capsys.readouterr().err == "mealytics: error: no API token 7\n"


def test_an_analyst_without_a_website_is_a_usage_error(api_state, capsys):
    assert cli.main(["api", "token", "create", "--role", "analyst"]) == 2
    assert "needs at least one --website" in capsys.readouterr().err
    assert state.list_tokens(state.open_state(api_state)) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["api", "token", "create", "--role", "owner"],
        ["api", "token", "create", "--role", "admin", "--website", "x"],
        ["api", "token", "revoke", "0"],
    ],
)
def test_bad_arguments_exit_2(api_state, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_command_in_its_own_process(tmp_path):
    env = {**os.environ, "MEALYTICS_API_STATE": f"sqlite:///{tmp_path / 'api.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "api", "token", "create", "--role", "admin"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        check=True,
    )
    secret = done.stdout.splitlines()[-1]
    assert state.verify(state.open_state(env["MEALYTICS_API_STATE"]), secret).is_admin
