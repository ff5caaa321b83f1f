"""Request 003's worked example, end to end through the HTTP API.

A source whose rows give exactly the example's figures (tests/loyalty_example.py: one
website, 2000 loyalty accounts, January 2024, with entries just before and after the
window that must not count) goes through the real command, `mealytics run --as-of
2024-01-31` (extract, the whole dbt build, its checks, publish); the API then serves the
published version on loopback to a token of that website, and `POST
analytics/calculate/` with request 003's body answers request 003's JSON field for field,
plus the stored record's `id`. The same POST again returns the same record, and `GET
analytics/{id}/` and `GET analytics/` return it. The request's tier distribution and
engagement examples, and the head of its top redemptions, come out as well.
"""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from api_support import serving
from loyalty_example import AS_OF, CALCULATE, ENGAGEMENT, TIERS, WINDOW, build_source

from models.rules import check_rules
from pipelines.api import state
from pipelines.api.app import create_app
from pipelines.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MEALYTICS = ROOT / ".venv" / "bin" / "mealytics"
LOYALTY = "/api/v1/loyalty-management/analytics"


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("worked_example")
    source = build_source(root / "source.db")
    engine = sa.create_engine(source)
    try:
        assert check_rules(engine) == []  # a healthy source: every check of the run passes
    finally:
        engine.dispose()
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    warehouse = root / "data" / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEALYTICS_") and k not in ("FORCE_COLOR", "DAGSTER_HOME")}
    env.update(MEALYTICS_SOURCE_URL=source, MEALYTICS_WAREHOUSE=str(warehouse),
               DAGSTER_HOME=str(home), DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               NO_COLOR="1", TERM="dumb", COLUMNS="200")
    done = subprocess.run(  # cwd: the test's folder, so no `.env` of the repository is read
        [str(MEALYTICS), "run", "--as-of", AS_OF.isoformat()],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "0 failed" in done.stdout
    return Settings(warehouse=warehouse, api_state=f"sqlite:///{root / 'api.db'}")


@pytest.fixture(scope="module")
def server(published):
    app = create_app(published)
    with serving(app) as url:
        yield url
    app.state.catalog.close()


@pytest.fixture(scope="module")
def client(server, published):
    """An analyst of website 1: the request's body names no website."""
    _, secret = state.create_token(state.open_state(published.api_state), "analyst", [1])
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {secret}"},
                      timeout=30) as http:
        yield http


def test_calculate_answers_the_worked_example(client):
    answer = client.post(f"{LOYALTY}/calculate/", json=WINDOW)
    assert answer.status_code == 200, answer.text
    body = answer.json(parse_float=Decimal)
    assert isinstance(body.pop("id"), int)
    assert body == CALCULATE
    assert list(body) == list(CALCULATE)  # request 003's order of fields
    # Exact decimals in the text, as request 003 writes them.
    assert '"active_redemptions_ratio":36.00' in answer.text
    assert '"average_points_per_client":216.00' in answer.text


def test_the_record_is_stored_once_and_read_back(client):
    first = client.post(f"{LOYALTY}/calculate/", json=WINDOW)
    again = client.post(f"{LOYALTY}/calculate/", json=WINDOW)
    assert first.status_code == again.status_code == 200
    record = first.json(parse_float=Decimal)
    assert again.json(parse_float=Decimal) == record
    one = client.get(f"{LOYALTY}/{record['id']}/")
    assert one.status_code == 200, one.text
    assert one.json(parse_float=Decimal) == record == {"id": record["id"], **CALCULATE}
    listed = client.get(f"{LOYALTY}/")
    assert listed.status_code == 200
    assert listed.json(parse_float=Decimal) == [record]


def test_the_same_page_s_other_examples(client):
    tiers = client.get(f"{LOYALTY}/tier_distribution/")
    assert tiers.status_code == 200, tiers.text
    assert tiers.json(parse_float=Decimal) == TIERS
    engagement = client.get(f"{LOYALTY}/engagement_stats/", params={"days": 30})
    assert engagement.status_code == 200, engagement.text
    assert engagement.json(parse_float=Decimal) == ENGAGEMENT
    top = client.get(f"{LOYALTY}/top_redemptions/", params={"limit": 10})
    assert top.status_code == 200, top.text
    assert top.json()[:2] == [  # the request's first two; item 7's 300 February ones unseen
        {"id": 5, "name": "$10 Discount Code", "points_required": 1000,
         "redemption_count": 250, "category": "Discounts"},
        {"id": 3, "name": "$5 Wallet Credit", "points_required": 500,
         "redemption_count": 180, "category": "Cash"},
    ]


def test_a_window_after_as_of_is_refused(client):
    answer = client.post(f"{LOYALTY}/calculate/",
                         json={"date_from": "2024-01-01", "date_to": "2024-02-29"})
    assert answer.status_code == 400
    assert "as_of 2024-01-31" in answer.json()["detail"]
