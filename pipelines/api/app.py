"""The FastAPI application behind `mealytics serve` (`create_app`), and `serve` itself.

Read-only over the published marts (`catalog.py`: each request reads the version current
when it starts); the API's own state (tokens) in `MEALYTICS_API_STATE` (`state.py`). Every
request is logged on the `mealytics.api` logger with its token's id, never the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pipelines.api import analytics, dashboard, loyalty, records, state, widgets
from pipelines.api.catalog import Catalog, NotPublishedError
from pipelines.settings import Settings

LOG = logging.getLogger("mealytics.api")


#: The response header naming the published version a response was read from.
VERSION_HEADER = b"x-mealytics-version"


class RequestLog:
    """ASGI middleware: one line per request: method, path, status, milliseconds, the
    token's id (`-` without a valid token) and the marts' version read, which the response
    also names (`X-Mealytics-Version`)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]
        seen = scope.setdefault("state", {})

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if "marts_version" in seen:
                    version = seen["marts_version"].encode()
                    message["headers"] = [*message.get("headers", []), (VERSION_HEADER, version)]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            LOG.info(
                "%s %s %d %.1fms token=%s version=%s",
                scope["method"],
                scope["path"],
                status[0],
                (time.perf_counter() - started) * 1000,
                seen.get("token_id", "-"),
                seen.get("marts_version", "-"),
            )


def _not_published(_request: Request, exc: NotPublishedError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503)


def create_app(config: Settings | None = None, *, warm: bool = True) -> FastAPI:
    """The API over `config`'s published marts and API state (default: the environment).

    `warm`: a newly published version is read by requests once it is warm (the previous
    version's queries and dashboard answers asked of it in the background, `Catalog`);
    without, from the first request that finds it."""
    config = config or Settings.from_env()
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # what is published is warmed before the first request (the dashboard's payload)
        if warm:
            await asyncio.to_thread(app.state.catalog.prime)
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="Mealytics API",
        summary="The owners' analytics over the published marts, scoped per website",
        docs_url="/docs",
    )
    app.state.api_state = state.open_state(config.api_state)
    app.state.catalog = catalog = Catalog(config.publish_folder, config.published_file,
                                          warm=warm)
    payloads = dashboard.cache_of(app)
    catalog.add_warmer(dashboard.warmer(app))
    catalog.on_switch(payloads.retain)
    app.add_exception_handler(NotPublishedError, _not_published)
    app.add_middleware(RequestLog)
    app.include_router(loyalty.router)
    app.include_router(records.router)  # after: `analytics/{id}/` after the named paths
    app.include_router(widgets.router)
    app.include_router(analytics.router)
    app.include_router(dashboard.router)
    return app


def app_from_env() -> FastAPI:
    """The app of the environment's settings: what each worker process of `serve --workers`
    builds for itself (its own catalog and caches; nothing is shared between workers), logging
    as the parent does (a worker is a fresh interpreter)."""
    _log_to_stderr()
    return create_app(Settings.from_env())


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


def serve(config: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the API under uvicorn until interrupted (its own access log off: `RequestLog`
    logs every request, with the token's id). With `workers` > 1, that many processes share
    the port; each builds its app from the environment (`app_from_env`), which is where
    `config` came from (the CLI takes no setting of its own)."""
    import uvicorn

    _log_to_stderr()
    options = {"host": host, "port": port, "access_log": False, "log_level": "info"}
    if workers > 1:
        uvicorn.run("pipelines.api.app:app_from_env", factory=True, workers=workers, **options)
        return
    app = create_app(config)
    try:
        uvicorn.run(app, **options)
    finally:
        app.state.catalog.close()
