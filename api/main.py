"""The FastAPI app: `uvicorn --factory api.main:create_app` (or `forecaster serve`).

Start-up checks the database schema and refuses to start when it is behind the code, with a
log line saying to run `forecaster db upgrade` (the CLI and `forecaster serve` migrate; the app
never changes the schema by itself, so two replicas can never race a migration). A database
that cannot be reached at start-up is logged and reported by /health (503) instead: the app
comes up and recovers when the database does.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from api import errors, openapi
from api.cache import ForecastCaches, RevisionCache
from api.errors import OutageLog
from api.metrics import ApiMetrics, MetricsMiddleware
from api.params import forbid_unknown_query
from api.pool import ComputePool
from api.routers import accuracy, dashboard, forecasts, health, models, runs, series
from flows.dispatch import Dispatcher
from forecaster.config import Settings, get_settings
from forecaster.db.session import Database, current_revision, head_revision

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).resolve().parent / "dashboard" / "static"
SHUTDOWN_GRACE_S = 5.0  # in-process runs get this long to finish when the server stops


class SchemaBehind(RuntimeError):
    """The database schema is not the one this code expects."""


def _check_schema(app: FastAPI) -> None:
    engine = app.state.db.engine
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        logger.error(
            "database unreachable at start-up (%s); /health answers 503 until it is back",
            exc,
        )
        return
    if revision != app.state.head_revision:
        message = (
            f"database schema is at revision {revision}, this code needs "
            f"{app.state.head_revision}: run `forecaster db upgrade` "
            f"(FORECASTER_DATABASE_URL={engine.url.render_as_string(hide_password=True)})"
        )
        logger.error(message)
        raise SchemaBehind(message)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    _check_schema(app)
    dispatcher: Dispatcher = app.state.dispatcher
    try:
        dispatcher.recover_orphans()
        dispatcher.reap()
        app.state.caches.keep_champions(app.state.session_factory)
    except SQLAlchemyError as exc:
        logger.error("could not read runs and champions at start-up: %s", exc)
    reaper = asyncio.create_task(_reap_forever(dispatcher, app.state.outage_log))
    yield
    reaper.cancel()
    dispatcher.join(SHUTDOWN_GRACE_S)
    app.state.db.dispose()


async def _reap_forever(dispatcher: Dispatcher, outages: OutageLog) -> None:
    """Every few seconds, end the runs whose process died or that no worker took (a killed
    worker, a lost server, a CLI run killed with -9): a stale run never blocks a series."""
    every = min(dispatcher.policy.heartbeat_s, 10.0)
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(dispatcher.reap)
        except (OperationalError, InterfaceError) as exc:  # one line per outage, as requests
            outages.seen(exc)
        except Exception:  # noqa: BLE001 - the next round tries again
            logger.warning("reaping stale runs failed", exc_info=True)


def _after_run(app: FastAPI, kind: str, _run_id: int) -> None:
    """A retrain may have promoted new champions: load them now, not on the next read."""
    caches: ForecastCaches = app.state.caches
    if kind == "retrain":
        caches.keep_champions(app.state.session_factory)  # invalidates the memo too
    else:
        caches.invalidate()  # new data: look the cache keys up again


UnknownQuery = Depends(forbid_unknown_query)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings default to the environment (FORECASTER_*). Nothing connects yet."""
    settings = settings or get_settings()
    # Offline, Prefect must not phone home (it can lock its SQLite file), and its ephemeral
    # server needs time to start on small machines.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

    app = FastAPI(
        title="Forecaster",
        version="0.1.0",
        summary="Recursive and direct multi-step forecasts with their error metrics.",
        description=(
            "Read routes are open. Mutating routes (POST) need the `X-API-Key` header set to "
            "the server's FORECASTER_API_KEY; without one configured they answer 503. "
            'Errors are JSON `{"detail": message}`.'
        ),
        lifespan=lifespan,
        docs_url=None,  # api/openapi.py serves /docs and /redoc from vendored assets
        redoc_url=None,
    )
    db = Database(settings.database_url)
    factory = db.sessions
    app.state.settings = settings
    app.state.db = db  # owns the engine: disposed when the app stops
    app.state.session_factory = factory  # what routers and dependencies open sessions with
    app.state.head_revision = head_revision(settings.database_url)
    # forecast bodies, loaded models and the read memo: one owner, one invalidate(...)
    app.state.caches = ForecastCaches()
    app.state.series_facts = RevisionCache()  # api/routers/series.py: variables, range counts
    app.state.compute_pool = ComputePool(settings.forecast_workers, settings.forecast_queue_wait_s)
    # api/routers/accuracy.py: reports by (request, what they are computed from); its memo
    # entries live in caches.memo, so every in-process ingest, retrain and promotion clears them
    app.state.accuracy_cache = RevisionCache(maxsize=512)
    app.state.metrics = ApiMetrics(factory, app.state.compute_pool)
    app.state.dispatcher = Dispatcher.from_settings(
        settings, factory=factory, on_finish=partial(_after_run, app)
    )

    errors.install(app)
    openapi.install(app)
    openapi.install_docs(app)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    for module in (series, accuracy, forecasts, models, runs):
        # an unknown query parameter is a 422 naming the valid ones (api/params.py)
        app.include_router(module.router, prefix=API_PREFIX, dependencies=[UnknownQuery])
    app.include_router(health.router)
    app.include_router(dashboard.router)  # "/" and plotly's bundle
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    return app
