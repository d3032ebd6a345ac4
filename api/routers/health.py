"""Operational routes at the root: /health (for load balancers) and /metrics (for Prometheus)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from api.schemas.runs import HealthPublic
from forecaster.db.session import schema_revision

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    responses={503: {"model": HealthPublic, "description": "database or schema not ready"}},
)
def health(request: Request, response: Response) -> HealthPublic:
    """Database reachable, migrations current, champion models loaded; 503 when not ready."""
    state = request.app.state
    head = state.head_revision
    try:
        revision = schema_revision(engine=state.db.engine)
        reachable = True
    except SQLAlchemyError as exc:
        logger.warning("health: database unreachable: %s", exc)
        revision, reachable = None, False
    body = HealthPublic(
        status="ok" if reachable and revision == head else "unavailable",
        database=reachable,
        migrations_current=revision == head,
        schema_revision=revision,
        head_revision=head,
        models_loaded=len(state.caches.models.loaded),
    )
    if not reachable:
        body.detail = "database unreachable: check FORECASTER_DATABASE_URL"
    elif revision != head:
        body.detail = f"schema at {revision}, code expects {head}: run `forecaster db upgrade`"
    if body.status != "ok":
        response.status_code = 503
    return body


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
