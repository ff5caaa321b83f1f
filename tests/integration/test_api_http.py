"""`mealytics serve` over real HTTP: uvicorn on loopback, httpx as the client.

One small business (two websites) is built and published once for the module; the API
reads the published catalog. Every answer is compared with SQL on the published marts
(not through the table macros the API calls); the tokens' scope, 401s, 4xx for bad input,
the log line per request (token id, never the token) and a new publication served
without a restart are checked against the running server.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal

import duckdb
import httpx
import pytest
from api_support import build_warehouse, make_tokens, publish_for_api, served, serving

from pipelines.api import state
from pipelines.api.app import create_app
from pipelines.publish.version import publish_version
from pipelines.settings import Settings

LOYALTY = "/api/v1/loyalty-management/analytics"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    return publish_for_api(build_warehouse(root), root)


@pytest.fixture(scope="module")
def server(published):
    with served(published) as both:
        yield both


@pytest.fixture(scope="module")
def tokens(published):
    return make_tokens(published, {"admin": ("admin", ()), "one": ("analyst", (1,)),
                                   "two": ("analyst", (2,)), "both": ("analyst", (1, 2))})


def get(server, path: str, token: str | None = None, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(server[0] + path, headers=headers, params=params, timeout=30)


def sql(published: Settings, query: str, *params) -> list[tuple]:
    with duckdb.connect(str(published.published_file), read_only=True) as con:
        return con.execute(query, list(params)).fetchall()


def as_of(published, website: int) -> dt.date:
    return sql(
        published,
        "select max(business_date) from marts.fct_daily_snapshot where website_id = ?",
        website,
    )[0][0]


def test_docs_and_openapi_need_no_token(server):
    assert get(server, "/docs").status_code == 200
    paths = get(server, "/openapi.json").json()["paths"]
    assert f"{LOYALTY}/tier_distribution/" in paths and f"{LOYALTY}/points_trend/" in paths


@pytest.mark.parametrize("header", [None, "Bearer mly_not-a-token", "Basic abc", "Bearer x"])
def test_without_a_valid_token_401(server, header):
    headers = {"Authorization": header} if header else {}
    answer = httpx.get(server[0] + f"{LOYALTY}/tier_distribution/", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "API token" in answer.json()["detail"]


def test_a_revoked_token_stops_at_once(server, published):
    engine = state.open_state(published.api_state)
    token, secret = state.create_token(engine, "analyst", [1])
    assert get(server, f"{LOYALTY}/tier_distribution/", secret).status_code == 200
    state.revoke(engine, token.id)
    assert get(server, f"{LOYALTY}/tier_distribution/", secret).status_code == 401


@pytest.mark.parametrize("website", [1, 2])
def test_tier_distribution_equals_the_marts(server, published, tokens, website):
    expected = sql(
        published,
        """
        select tier, active_clients, threshold, percentage from marts.fct_loyalty_tier_daily
        where website_id = $1 and business_date = (
            select max(business_date) from marts.fct_loyalty_tier_daily
            where website_id = $1 and business_date <= $2)
        order by threshold
        """,
        website, as_of(published, website),
    )
    assert expected and sum(row[1] for row in expected) > 0
    answer = get(server, f"{LOYALTY}/tier_distribution/", tokens["admin"], website=website)
    assert answer.status_code == 200, answer.text
    assert answer.json(parse_float=Decimal) == [
        {"tier_name": tier.capitalize(), "count": count, "threshold": threshold,
         "percentage": percentage}
        for tier, count, threshold, percentage in expected
    ]
    # Exact decimals in the text: 2 places, as request 003 writes them.
    assert f'"percentage":{expected[0][3]:.2f}' in answer.text


@pytest.mark.parametrize("days", [1, 7, 30, 3650])
def test_points_trend_equals_the_marts(server, published, tokens, days):
    end = as_of(published, 1)
    expected = sql(
        published,
        "select business_date, points_issued, points_redeemed, points_balance "
        "from marts.fct_loyalty_points_daily where website_id = 1 "
        "and business_date between $1 and $2 order by 1",
        end - dt.timedelta(days=days - 1), end,
    )
    answer = get(server, f"{LOYALTY}/points_trend/", tokens["one"], days=days)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {"date": d.isoformat(), "issued": int(i), "redeemed": int(r), "balance": int(b)}
        for d, i, r, b in expected
    ]
    assert len(expected) == min(days, len(answer.json())) and expected


def test_an_analyst_sees_its_website_only(server, tokens):
    trend, tiers = f"{LOYALTY}/points_trend/", f"{LOYALTY}/tier_distribution/"
    assert get(server, tiers, tokens["one"]).json() == get(
        server, tiers, tokens["admin"], website=1).json()
    for path in (trend, tiers):
        refused = get(server, path, tokens["one"], website=2)
        assert refused.status_code == 404 and refused.json() == {"detail": "no website 2"}
        assert get(server, path, tokens["two"], website=2).status_code == 200
        assert get(server, path, tokens["two"], website=1).status_code == 404
        assert get(server, path, tokens["both"], website=2).status_code == 200


@pytest.mark.parametrize("token", ["admin", "both"])
def test_a_token_of_several_websites_must_name_one(server, tokens, token):
    answer = get(server, f"{LOYALTY}/tier_distribution/", tokens[token])
    assert answer.status_code == 400 and "?website=ID" in answer.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [{"days": 0}, {"days": 3651}, {"days": "x"}, {"website": 0}, {"website": "x"},
     {"website": 99}],
)
def test_bad_input_is_a_4xx_with_a_message(server, tokens, params):
    answer = get(server, f"{LOYALTY}/points_trend/", tokens["admin"], **{"website": 1, **params})
    assert 400 <= answer.status_code < 500 and answer.json()["detail"]


def test_every_request_is_logged_with_its_token_id_never_the_token(server, tokens, caplog):
    caplog.set_level(logging.INFO, logger="mealytics.api")
    secret = tokens["two"]
    token_id = state.verify(server[1].state.api_state, secret).id
    get(server, f"{LOYALTY}/tier_distribution/", secret)
    get(server, f"{LOYALTY}/tier_distribution/")
    lines = [r.getMessage() for r in caplog.records if r.name == "mealytics.api"]
    assert any(" 200 " in line and f"token={token_id} " in line for line in lines), lines
    assert any(" 401 " in line and "token=- " in line for line in lines), lines
    assert all(secret not in line for line in lines)


def test_a_new_publication_is_served_without_a_restart(server, published, tokens):
    path = f"{LOYALTY}/tier_distribution/"
    first = get(server, path, tokens["one"])
    record = publish_version(published.warehouse, published.publish_folder)
    # Requests read the previous version until the new one is warm: then the new one.
    assert server[1].state.catalog.settle() == record["version"]
    second = get(server, path, tokens["one"])
    assert first.headers["x-mealytics-version"] != second.headers["x-mealytics-version"]
    assert second.headers["x-mealytics-version"] == record["version"]
    assert second.json() == first.json()
    # The old version's connection is closed once no request reads it, so publishing
    # can prune it: only the current version stays open.
    assert server[1].state.catalog.open_versions() == [record["version"]]


def test_nothing_published_is_a_503(tmp_path, tokens):
    config = Settings(
        warehouse=tmp_path / "warehouse.duckdb", publish_dir=tmp_path / "out",
        api_state=f"sqlite:///{tmp_path / 'api.db'}",
    )
    _, secret = state.create_token(state.open_state(config.api_state), "analyst", [1])
    with serving(create_app(config)) as url:
        answer = httpx.get(url + f"{LOYALTY}/tier_distribution/",
                           headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 503 and "mealytics run" in answer.json()["detail"]


@pytest.mark.parametrize("workers", [1, 2])
def test_mealytics_serve_runs_uvicorn_and_logs_token_ids(published, tokens, tmp_path, workers):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from api_support import free_port

    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "MEALYTICS_WAREHOUSE": str(published.warehouse),
        "MEALYTICS_PUBLISH_DIR": str(published.publish_folder),
        "MEALYTICS_API_STATE": published.api_state,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "serve", "--port", str(port),
         "--workers", str(workers)],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 30
        while True:
            try:
                docs = httpx.get(url + "/docs")
                break
            except httpx.ConnectError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        # Several requests: with two workers, both may answer; each reads the publication.
        answers = [
            httpx.get(url + f"{LOYALTY}/tier_distribution/",
                      headers={"Authorization": f"Bearer {tokens['one']}"})
            for _ in range(4)
        ]
        assert {a.status_code for a in answers} == {200}
        assert all(a.json() == answers[0].json() for a in answers)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert f"GET {LOYALTY}/tier_distribution/ 200 " in err
    assert tokens["one"] not in err


def test_serve_refuses_a_bad_port(capsys):
    from pipelines import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--port", "70000"])
    assert exit_info.value.code == 2
    assert "65535" in capsys.readouterr().err


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_top_redemptions_equal_the_marts(server, published, tokens, limit):
    expected = sql(
        published,
        """
        select redemption_item_id, item_name, points_required, sum(redemption_count) as n,
               category
        from marts.fct_redemption_items where website_id = 1 and business_date <= $1
        group by all order by n desc, redemption_item_id limit $2
        """,
        as_of(published, 1), limit,
    )
    assert expected
    answer = get(server, f"{LOYALTY}/top_redemptions/", tokens["one"], limit=limit)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {"id": i, "name": n, "points_required": int(p), "redemption_count": int(c),
         "category": k}
        for i, n, p, c, k in expected
    ]


@pytest.mark.parametrize("limit", [0, 101, "ten"])
def test_top_redemptions_refuse_a_bad_limit(server, tokens, limit):
    answer = get(server, f"{LOYALTY}/top_redemptions/", tokens["one"], limit=limit)
    assert answer.status_code == 422 and answer.json()["detail"]


@pytest.mark.parametrize("days", [7, 30])
def test_engagement_stats_equal_the_marts(server, published, tokens, days):
    end = as_of(published, 2)
    (clients,) = sql(
        published,
        "select count(*) from marts.dim_loyalty_accounts where website_id = 2 "
        "and created_date <= $1",
        end,
    )[0]
    answer = get(server, f"{LOYALTY}/engagement_stats/", tokens["two"], days=days)
    assert answer.status_code == 200, answer.text
    stats = answer.json(parse_float=Decimal)
    assert list(stats) == [
        "total_clients", "active_clients", "clients_with_redemptions",
        "clients_with_transactions", "engagement_rate", "redemption_rate",
    ]
    assert stats["total_clients"] == clients > 0
    assert stats["active_clients"] == sql(
        published,
        "select active_clients from marts.fct_loyalty_points_daily where website_id = 2 "
        "and business_date = (select max(business_date) from marts.fct_loyalty_points_daily "
        "where website_id = 2 and business_date <= $1)",
        end,
    )[0][0]
    rate = Decimal(stats["clients_with_transactions"] * 100) / clients
    assert stats["engagement_rate"] == rate.quantize(Decimal("0.01"))


def test_publications_during_requests_give_no_error_and_no_mix(server, published, tokens):
    import concurrent.futures
    import threading

    paths = [f"{LOYALTY}/{name}/" for name in
             ("tier_distribution", "points_trend", "top_redemptions", "engagement_stats")]
    first = {path: get(server, path, tokens["one"]) for path in paths}
    baseline = {path: reply.json() for path, reply in first.items()}
    before = first[paths[0]].headers["x-mealytics-version"]
    done, answers = threading.Event(), []

    def client(number: int) -> None:
        with httpx.Client(base_url=server[0], timeout=30) as http:
            while not done.is_set():
                path = paths[number % len(paths)]
                reply = http.get(path, headers={"Authorization": f"Bearer {tokens['one']}"})
                answers.append((path, reply.status_code, reply.headers.get(
                    "x-mealytics-version"), reply.json()))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        clients = [pool.submit(client, n) for n in range(8)]
        versions = [publish_version(published.warehouse, published.publish_folder)["version"]
                    for _ in range(3)]
        server[1].state.catalog.settle()  # the newest warmed and read
        count = len(answers)
        while len(answers) < count + 16:
            time.sleep(0.05)
        done.set()
        for future in clients:
            future.result()
    assert len(answers) > 50
    assert {status for _, status, _, _ in answers} == {200}
    assert all(body == baseline[path] for path, _, _, body in answers)
    # Each answer names one version, an existing one: the requests followed the switches.
    seen = {version for _, _, version, _ in answers}
    assert seen <= {before, *versions} and len(seen) >= 2, (seen, before, versions)


def post(server, path: str, token: str, **kwargs) -> httpx.Response:
    return httpx.post(server[0] + path, headers={"Authorization": f"Bearer {token}"},
                      timeout=30, **kwargs)


def test_calculate_stores_one_record_per_range_and_recomputes_after_a_publication(
    server, published, tokens
):
    from pipelines import loyalty_analytics

    end = as_of(published, 1)
    window = {"date_from": (end - dt.timedelta(days=20)).isoformat(), "date_to": end.isoformat()}
    first = post(server, f"{LOYALTY}/calculate/", tokens["one"], json=window)
    assert first.status_code == 200, first.text
    body = first.json(parse_float=Decimal)
    assert list(body) == ["id", *loyalty_analytics.FIELDS]
    (expected,) = loyalty_analytics.calculate(
        published.warehouse, end - dt.timedelta(days=20), end, 1
    )
    assert {k: v for k, v in body.items() if k != "id"} == expected
    (issued, balance) = sql(
        published,
        "select sum(points_issued), max_by(points_balance, business_date) "
        "from marts.fct_loyalty_points_daily where website_id = 1 "
        "and business_date between $1 and $2",
        end - dt.timedelta(days=20), end,
    )[0]
    assert (body["total_points_issued"], body["total_points_balance"]) == (issued, balance)
    again = post(server, f"{LOYALTY}/calculate/", tokens["admin"], json={**window, "website": 1})
    assert again.json(parse_float=Decimal) == body
    engine = server[1].state.api_state
    computed_on = state.get_record(engine, body["id"]).marts_version
    record = publish_version(published.warehouse, published.publish_folder)
    server[1].state.catalog.settle()
    third = post(server, f"{LOYALTY}/calculate/", tokens["one"], json=window)
    assert third.json(parse_float=Decimal) == body
    assert state.get_record(engine, body["id"]).marts_version == record["version"] != computed_on
    listed = get(server, f"{LOYALTY}/", tokens["one"]).json()
    assert [r["id"] for r in listed].count(body["id"]) == 1


def test_records_are_scoped_to_the_tokens_websites(server, published, tokens):
    end = as_of(published, 2).isoformat()
    window = {"date_from": "2026-03-10", "date_to": end}
    two = post(server, f"{LOYALTY}/calculate/", tokens["two"], json=window).json()
    one = post(server, f"{LOYALTY}/calculate/", tokens["one"], json=window).json()
    assert (two["website"], one["website"]) == (2, 1)
    assert get(server, f"{LOYALTY}/{two['id']}/", tokens["two"]).json()["id"] == two["id"]
    assert get(server, f"{LOYALTY}/{two['id']}/", tokens["one"]).status_code == 404
    assert get(server, f"{LOYALTY}/{two['id']}/", tokens["admin"]).status_code == 200
    assert {r["website"] for r in get(server, f"{LOYALTY}/", tokens["two"]).json()} == {2}
    admin_ids = {r["id"] for r in get(server, f"{LOYALTY}/", tokens["admin"]).json()}
    assert {one["id"], two["id"]} <= admin_ids
    assert get(server, f"{LOYALTY}/999999/", tokens["admin"]).status_code == 404
    refused = post(server, f"{LOYALTY}/calculate/", tokens["one"], json={**window, "website": 2})
    assert refused.status_code == 404


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"date_from": "2026-03-20", "date_to": "2026-03-10"}, 422),
        ({"date_from": "2026-03-01", "date_to": "2027-01-01"}, 400),
        ({"date_from": "2026-03-01"}, 422),
        ({"date_from": "2026-02-30", "date_to": "2026-03-10"}, 422),
        ({"date_from": "2026-03-01", "date_to": "2026-03-10", "extra": 1}, 422),
        ({"date_from": "2026-03-01", "date_to": "2026-03-10", "website": 0}, 422),
        ('{"date_from": "2026-03-01",', 422),
    ],
)
def test_calculate_refuses_bad_input_with_a_4xx(server, tokens, payload, status):
    kwargs = {"json": payload} if isinstance(payload, dict) else {
        "content": payload, "headers": {"content-type": "application/json"}}
    headers = {"Authorization": f"Bearer {tokens['one']}", **kwargs.pop("headers", {})}
    answer = httpx.post(server[0] + f"{LOYALTY}/calculate/", headers=headers, **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]


WIDGETS = "/api/v1/loyalty-management/dashboard-widgets/"


def send(server, method: str, path: str, token: str, **kwargs) -> httpx.Response:
    return httpx.request(method, server[0] + path, timeout=30,
                         headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_the_widget_lifecycle(server, tokens):
    admin, analyst = tokens["admin"], tokens["one"]
    trend = {"widget_type": "points_issued", "title": "Points issued", "position": 2,
             "configuration": {"chart_type": "line", "days": 30}}
    tiers = {"widget_type": "tier_distribution", "title": "Tiers", "position": 1,
             "is_visible": False}
    created = [send(server, "POST", WIDGETS, admin, json=body) for body in (trend, tiers)]
    assert [c.status_code for c in created] == [201, 201]
    first, second = (c.json() for c in created)
    assert first == {"id": first["id"], "is_visible": True, **trend}
    assert second["configuration"] == {} and second["is_visible"] is False
    listed = send(server, "GET", WIDGETS, analyst).json()
    ours = [w["id"] for w in listed if w["id"] in (first["id"], second["id"])]
    assert ours == [second["id"], first["id"]]  # by position
    path = f"{WIDGETS}{first['id']}/"
    assert send(server, "GET", path, analyst).json() == first
    changed = {**trend, "title": "Points, 90 days", "configuration": {"days": 90}}
    assert send(server, "PUT", path, analyst, json=changed).status_code == 403
    updated = send(server, "PUT", path, admin, json=changed)
    assert updated.status_code == 200 and updated.json()["title"] == "Points, 90 days"
    assert send(server, "GET", path, analyst).json()["configuration"] == {"days": 90}
    assert send(server, "DELETE", path, analyst).status_code == 403
    assert send(server, "DELETE", path, admin).status_code == 204
    assert send(server, "GET", path, admin).status_code == 404
    assert send(server, "DELETE", path, admin).status_code == 404
    assert send(server, "PUT", path, admin, json=changed).status_code == 404
    assert send(server, "POST", WIDGETS, analyst, json=trend).status_code == 403
    assert httpx.get(server[0] + WIDGETS).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"widget_type": "pie_of_the_day", "title": "x"},
        {"widget_type": "points_balance", "title": ""},
        {"widget_type": "points_balance", "title": "x", "position": -1},
        {"widget_type": "points_balance", "title": "x", "configuration": {"days": 0}},
        {"widget_type": "points_balance", "title": "x", "configuration": {"colour": "red"}},
        {"widget_type": "points_balance", "title": "x", "configuration": "days=30"},
        {"title": "x"},
    ],
)
def test_a_bad_widget_is_a_422_with_a_message(server, tokens, body):
    answer = send(server, "POST", WIDGETS, tokens["admin"], json=body)
    assert answer.status_code == 422 and answer.json()["detail"]


def test_all_seven_widget_types_are_accepted(server, tokens):
    for kind in state.WIDGET_TYPES:
        answer = send(server, "POST", WIDGETS, tokens["admin"],
                      json={"widget_type": kind, "title": kind})
        assert answer.status_code == 201, answer.text
        assert send(server, "DELETE", f"{WIDGETS}{answer.json()['id']}/",
                    tokens["admin"]).status_code == 204


_READS = [f"{LOYALTY}/{name}/" for name in
          ("tier_distribution", "points_trend", "top_redemptions", "engagement_stats")]


@pytest.fixture(scope="module")
def revoked(published):
    engine = state.open_state(published.api_state)
    token, secret = state.create_token(engine, "admin")
    state.revoke(engine, token.id)
    return secret


@pytest.mark.parametrize(
    ("who", "website", "status"),
    [
        ("admin", 1, 200), ("admin", 2, 200), ("admin", None, 400),
        ("one", 1, 200), ("one", 2, 404), ("one", None, 200),
        ("two", 1, 404), ("two", 2, 200), ("two", None, 200),
        ("both", 1, 200), ("both", 2, 200), ("both", None, 400),
        ("revoked", 1, 401), ("nobody", 1, 401),
    ],
)
def test_the_permission_matrix_of_the_reads(server, tokens, revoked, who, website, status):
    secret = {**tokens, "revoked": revoked, "nobody": None}[who]
    params = {} if website is None else {"website": website}
    for path in _READS:
        assert get(server, path, secret, **params).status_code == status, path


@pytest.mark.parametrize(
    ("who", "status"), [("admin", 201), ("one", 403), ("both", 403), ("revoked", 401)]
)
def test_the_permission_matrix_of_widget_writes(server, tokens, revoked, who, status):
    secret = {**tokens, "revoked": revoked}[who]
    body = {"widget_type": "points_balance", "title": "Balance"}
    answer = send(server, "POST", WIDGETS, secret, json=body)
    assert answer.status_code == status
    if status == 201:
        send(server, "DELETE", f"{WIDGETS}{answer.json()['id']}/", secret)
