"""Record a candidate that crashed: a failed version (no weights), and the global model a crash
left without weights, so a run's listing shows what broke. Each function takes the caller's
session and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from forecaster.app.runs import ensure_active
from forecaster.db.models import GlobalModel, ModelVersion


def record_global_failure(
    *, session: Session, group: str, members: Sequence[str], spec: Any, run_id: int | None
) -> GlobalModel:
    """The global model a crash left without weights: its members' failed versions point at it,
    so a listing still shows which group the failure was."""
    row = GlobalModel(
        group=group,
        architecture=spec.architecture,
        strategy=spec.strategy,
        hyperparameters=spec.to_dict(),
        members=list(members),
        weights=None,
        fit={},
        run_id=run_id,
    )
    session.add(row)
    session.flush()
    ensure_active(session=session, run_id=run_id, what=f"the failed global model of {group}")
    return row


def record_failure(
    *,
    session: Session,
    series_id: int,
    architecture: str,
    strategy: str,
    spec: dict[str, Any],
    error: str,
    run_id: int | None,
    global_model_id: int | None = None,
) -> ModelVersion:
    """A candidate that crashed is recorded as `failed` (no weights), so the run shows what broke."""
    version = ModelVersion(
        series_id=series_id,
        architecture=architecture,
        strategy=strategy,
        hyperparameters=spec,
        feature_spec={"error": error[:2000]},
        normalization={},
        status="failed",
        run_id=run_id,
        global_model_id=global_model_id,
    )
    session.add(version)
    session.flush()
    ensure_active(session=session, run_id=run_id, what=f"the failure of {architecture}/{strategy}")
    return version
