"""Model versions: list, detail with every figure beside the baselines, promote."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api import render
from api.deps import ApiKey, CachesDep, FullDetail, SessionDep
from api.schemas.common import DbId, ErrorDetail
from api.schemas.models import ModelDetail, ModelList, ModelPublic
from forecaster.app import catalog
from forecaster.app.versions import promote
from forecaster.db import series as series_db
from forecaster.db.models import Series

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/models", tags=["models"])

Status = Literal["candidate", "champion", "archived", "failed"]


@router.get("", responses={404: {"model": ErrorDetail, "description": "unknown series"}})
def list_models(
    session: SessionDep,
    full: FullDetail,
    series: Annotated[str | None, Query(max_length=100)] = None,
    status: Status | None = None,
) -> ModelList:
    """Newest first; filter by series key and status. A failed version's `error` is one
    sanitized line unless the request carries the API key."""
    series_id = series_db.get_series(session=session, key=series).id if series else None
    keys = {s.id: s.key for s in series_db.list_series(session=session)}
    versions = catalog.list_versions(session=session, series_id=series_id, status=status)
    data = [render.model_public(v, keys[v.series_id], full=full) for v in versions]
    return ModelList(data=data, count=len(data))


@router.get("/{version_id}", responses={404: {"model": ErrorDetail}})
def read_model(version_id: DbId, session: SessionDep, full: FullDetail) -> ModelDetail:
    """Config, training range, attention available, and every evaluation figure."""
    version = catalog.get_version(session=session, version_id=version_id)
    series = session.get(Series, version.series_id)
    rows = catalog.version_metrics(session=session, version_id=version_id)
    return render.model_detail(version, series.key if series else "", rows, full=full)


@router.post(
    "/{version_id}/promote",
    dependencies=[ApiKey],
    responses={404: {"model": ErrorDetail}, 422: {"model": ErrorDetail}},
)
def promote_model(version_id: DbId, session: SessionDep, caches: CachesDep) -> ModelPublic:
    """Make this version its strategy's champion; the previous champion is archived.

    The new champion is loaded before this returns, and the old one's forecasts are dropped.
    """
    version = catalog.get_version(session=session, version_id=version_id)
    old = catalog.find_champion(
        session=session, series_id=version.series_id, strategy=version.strategy
    )
    version = promote(session=session, version_id=version_id)
    series = session.get(Series, version.series_id)
    key = series.key if series else ""
    caches.invalidate(series_key=key, version_id=version.id)  # its bodies carry its old status
    if old is not None and old.id != version.id:
        caches.invalidate(series_key=key, version_id=old.id)  # archived: free its memory
    caches.models.model(version)
    return render.model_public(version, key, full=True)
