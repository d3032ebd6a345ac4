"""Request dependencies: the session (one transaction per request), settings, the API key check."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from api.cache import ForecastCaches
from api.pool import ComputePool
from flows.dispatch import Dispatcher
from forecaster.config import Settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed (or rolled back) before the response is sent.

    `async`, with the commit on the thread pool: creating the session does no I/O (it takes a
    connection on first use, in the handler's thread), while a plain generator dependency would
    cost two thread-pool hops per request, half the cost of a cached forecast read.
    """
    session: Session = request.app.state.session_factory()
    session.begin()
    try:
        yield session
    except BaseException:
        session.rollback()  # short, and it must happen even when the request is cancelled
        session.close()
        raise
    await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    finally:
        session.close()


# The small dependencies are `async def` on purpose too: FastAPI runs a plain `def` dependency
# on the thread pool.


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


async def get_caches(request: Request) -> ForecastCaches:
    caches: ForecastCaches = request.app.state.caches
    return caches


async def get_pool(request: Request) -> ComputePool:
    pool: ComputePool = request.app.state.compute_pool
    return pool


# scope="function": commit before the response is sent, so a client that reads right after a
# write sees it
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
CachesDep = Annotated[ForecastCaches, Depends(get_caches)]
PoolDep = Annotated[ComputePool, Depends(get_pool)]


# A security scheme (not a plain header) so /docs offers an "Authorize" button.
api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,  # our own 401/403/503 messages, not FastAPI's generic one
    description="the server's FORECASTER_API_KEY; needed by mutating (POST) routes only",
)


async def require_api_key(
    settings: SettingsDep, x_api_key: Annotated[str | None, Depends(api_key_header)]
) -> None:
    """Mutating routes: 401 without a key, 403 with a wrong one, 503 if none is configured."""
    if settings.api_key is None:
        raise HTTPException(
            503,
            "mutating routes are disabled: no API key is configured on the server; "
            "set FORECASTER_API_KEY and restart it",
        )
    if not x_api_key:
        raise HTTPException(
            401,
            "missing API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    if not hmac.compare_digest(x_api_key.encode(), settings.api_key.get_secret_value().encode()):
        raise HTTPException(403, "wrong API key in the X-API-Key header")


ApiKey = Depends(require_api_key)


async def has_valid_api_key(
    settings: SettingsDep,
    # a plain optional header, not the security scheme: the read stays open in /docs
    x_api_key: Annotated[
        str | None,
        Header(
            alias="X-API-Key",
            description="optional: with the server's key, failure details come in full",
        ),
    ] = None,
) -> bool:
    """Open reads: True when the request carries the server's key (it then sees stored failure
    details in full); anything else, a wrong key included, reads as anonymous."""
    if settings.api_key is None or not x_api_key:
        return False
    return hmac.compare_digest(x_api_key.encode(), settings.api_key.get_secret_value().encode())


FullDetail = Annotated[bool, Depends(has_valid_api_key)]
