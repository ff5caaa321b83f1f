"""The API's tests: a small published business, and uvicorn on loopback in a thread."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from dbt_helpers import run_dbt

import seeds
from pipelines.extract import extract_all

START = dt.date(2026, 3, 1)
DAYS = 40
AS_OF = START + dt.timedelta(days=DAYS - 1)
#: The marts the API's endpoints read, and what they need.
MARTS = ("+loyalty_tier_distribution", "+loyalty_points_trend", "+loyalty_calculate",
         "+loyalty_top_redemptions", "+loyalty_engagement_stats", "+dim_websites",
         "+fct_daily_snapshot")


def build_warehouse(root: Path) -> Path:
    """Two websites, 150 customers, 40 days, extracted and built (the API's marts only)."""
    source, warehouse = root / "operational.db", root / "warehouse.duckdb"
    seeds.generate(
        f"sqlite:///{source}", customers=150, days=DAYS, seed=7, start=START, progress=False
    )
    assert not extract_all(f"sqlite:///{source}", str(warehouse)).errors
    result = run_dbt(
        warehouse, "build", "--select", *MARTS,
        "--exclude", "resource_type:test", "resource_type:unit_test", as_of=AS_OF.isoformat(),
    )
    assert result.returncode == 0, result.stdout[-5000:]
    return warehouse


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(app, timeout_s: float = 20.0) -> Iterator[str]:
    """`app` under uvicorn on 127.0.0.1 at a free port, in a thread: its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)


def publish_for_api(warehouse: Path, root: Path):
    """Publish `warehouse` into `root/out`, with an API state of its own in `root`: the
    settings the API under test serves."""
    from pipelines.publish.version import publish_version
    from pipelines.settings import Settings

    publish_version(warehouse, root / "out")
    return Settings(
        warehouse=warehouse, publish_dir=root / "out", api_state=f"sqlite:///{root / 'api.db'}"
    )


@contextlib.contextmanager
def served(settings) -> Iterator[tuple[str, object]]:
    """The API of `settings` under uvicorn (`serving`): (its base URL, the app); the app's
    catalog closed afterwards."""
    from pipelines.api.app import create_app

    app = create_app(settings)
    try:
        with serving(app) as url:
            yield url, app
    finally:
        app.state.catalog.close()


def make_tokens(settings, roles: dict[str, tuple[str, tuple[int, ...]]]) -> dict[str, str]:
    """{name: the token's secret} for tokens created as `roles` says ({name: (role, websites)})."""
    from pipelines.api import state

    engine = state.open_state(settings.api_state)
    return {name: state.create_token(engine, role, websites)[1]
            for name, (role, websites) in roles.items()}


#: The marts request 000's analytics views read (pipelines/api/analytics.py), beside MARTS.
ANALYTICS_MARTS = (
    "+fct_order_status", "+fct_payment_methods", "+fct_item_sales", "+fct_discounts",
    "+fct_customer_order_days", "+fct_revenue_by_channel", "+dim_customers",
    "+fct_customer_rates", "+fct_customer_cohorts", "+fct_campaign_performance",
    "+fct_campaign_days", "+fct_campaign_variants", "+fct_campaign_channels",
    "+fct_loyalty_points_daily", "+fct_subscriptions_daily",
)


def build_analytics_warehouse(root: Path, days: int = 100) -> Path:
    """Two websites, 150 customers, `days` days from START (long enough by default for
    customers at churn risk, 60 days without an order), the analytics views' marts built
    beside MARTS; as_of is the last day."""
    source, warehouse = root / "operational.db", root / "warehouse.duckdb"
    seeds.generate(
        f"sqlite:///{source}", customers=150, days=days, seed=7, start=START, progress=False
    )
    assert not extract_all(f"sqlite:///{source}", str(warehouse)).errors
    as_of = START + dt.timedelta(days=days - 1)
    result = run_dbt(
        warehouse, "build", "--select", *MARTS, *ANALYTICS_MARTS,
        "--exclude", "resource_type:test", "resource_type:unit_test", as_of=as_of.isoformat(),
    )
    assert result.returncode == 0, result.stdout[-5000:]
    return warehouse
