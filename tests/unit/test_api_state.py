"""The API's state: tokens are stored hashed, verified, scoped and revoked at once."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from pipelines.api import state


@pytest.fixture
def engine(tmp_path):
    return state.open_state(f"sqlite:///{tmp_path / 'sub' / 'api.db'}")


def test_open_state_creates_the_file_and_the_three_tables(tmp_path, engine):
    assert (tmp_path / "sub" / "api.db").is_file()
    names = set(sa.inspect(engine).get_table_names())
    assert names == {"api_tokens", "loyalty_analytics", "dashboard_widgets"}


def test_a_token_is_stored_as_its_sha256_only(engine):
    token, secret = state.create_token(engine, "analyst", [2, 1, 2])
    assert secret.startswith("mly_") and len(secret) > 40
    assert token.websites == (1, 2) and token.role == "analyst"
    with engine.connect() as con:
        row = con.execute(sa.select(state.api_tokens)).one()
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(tuple(row))


def test_verify_finds_the_token_and_nothing_else(engine):
    token, secret = state.create_token(engine, "admin")
    assert state.verify(engine, secret) == token
    assert state.verify(engine, secret + "x") is None
    assert state.verify(engine, "") is None
    assert state.verify(engine, "Bearer " + secret) is None


def test_two_tokens_are_different(engine):
    _, first = state.create_token(engine, "admin")
    _, second = state.create_token(engine, "admin")
    assert first != second


def test_a_revoked_token_stops_verifying_at_once(engine):
    token, secret = state.create_token(engine, "analyst", [3])
    revoked = state.revoke(engine, token.id)
    assert revoked.revoked_at is not None
    assert state.verify(engine, secret) is None
    # Revoking again keeps the first revocation time.
    assert state.revoke(engine, token.id).revoked_at == revoked.revoked_at


def test_revoking_an_unknown_token_is_an_error(engine):
    with pytest.raises(state.ApiStateError, match="no API token 99"):
        state.revoke(engine, 99)


def test_scope(engine):
    admin, _ = state.create_token(engine, "admin")
    analyst, _ = state.create_token(engine, "analyst", [2])
    assert admin.sees(1) and admin.sees(7) and admin.is_admin
    assert analyst.sees(2) and not analyst.sees(1) and not analyst.is_admin


@pytest.mark.parametrize(
    ("role", "websites", "message"),
    [
        ("owner", [], "admin or analyst"),
        ("analyst", [], "at least one --website"),
        ("admin", [0], "positive"),
    ],
)
def test_bad_tokens_are_refused(engine, role, websites, message):
    with pytest.raises(state.ApiStateError, match=message):
        state.create_token(engine, role, websites)
    assert state.list_tokens(engine) == []


def test_a_bad_url_is_one_clear_error():
    with pytest.raises(state.ApiStateError, match="not a SQLAlchemy URL"):
        state.open_state("not a url")


def test_the_state_is_shared_between_engines(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    token, secret = state.create_token(state.open_state(url), "admin")
    assert state.verify(state.open_state(url), secret) == token


def test_the_setting_defaults_to_data_api_db_and_reads_the_variable():
    from pipelines.settings import Settings

    assert Settings.from_env({}).api_state == "sqlite:///data/api.db"
    url = "postgresql+psycopg://api:state-test-password@127.0.0.1/api"
    assert Settings.from_env({"MEALYTICS_API_STATE": url}).api_state == url
