"""Read-only questions about model versions answered from the database alone: the versions,
a strategy's champion, a version's figures beside the baselines.

Nothing here (nor anything it imports) loads torch or Prefect, so the CLI's read commands
(`series`, `models`, `runs`) start fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from forecaster.db.models import Evaluation as EvaluationRow
from forecaster.db.models import ModelVersion
from forecaster.errors import NoChampion, UnknownModel

STRATEGIES = ("recursive", "direct")
MAX_VERSION_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL


def get_version(*, session: Session, version_id: int) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise UnknownModel(version_id=version_id)
    return version


def list_versions(
    *, session: Session, series_id: int | None = None, status: str | None = None
) -> Sequence[ModelVersion]:
    # weights stay in the database until a model is loaded: listings never pull megabytes
    q = select(ModelVersion).options(defer(ModelVersion.weights)).order_by(ModelVersion.id.desc())
    if series_id is not None:
        q = q.where(ModelVersion.series_id == series_id)
    if status is not None:
        q = q.where(ModelVersion.status == status)
    return session.scalars(q).all()


def find_champion(*, session: Session, series_id: int, strategy: str) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(
            ModelVersion.series_id == series_id,
            ModelVersion.strategy == strategy,
            ModelVersion.status == "champion",
        )
    )


def get_champion(
    *, session: Session, series_id: int, strategy: str, series_key: str = ""
) -> ModelVersion:
    champion = find_champion(session=session, series_id=series_id, strategy=strategy)
    if champion is None:
        raise NoChampion(series_key=series_key or str(series_id), strategy=strategy)
    return champion


def version_metrics(*, session: Session, version_id: int) -> Sequence[EvaluationRow]:
    return session.scalars(
        select(EvaluationRow)
        .where(EvaluationRow.model_version_id == version_id)
        .order_by(
            EvaluationRow.split,
            EvaluationRow.variable,
            EvaluationRow.metric,
            EvaluationRow.step,
            EvaluationRow.model,
        )
    ).all()


def metrics_table(
    *, session: Session, version_id: int, splits: tuple[str, ...] = ("backtest", "test")
) -> tuple[str, list[dict[str, Any]]]:
    """The version's figures per (variable, step, metric), the model beside both baselines.

    Uses the first split of `splits` the version has (the recent backtest when it was scored on one).
    """
    rows = version_metrics(session=session, version_id=version_id)
    have = {r.split for r in rows}
    split = next((s for s in splits if s in have), "")
    cells: dict[tuple[str, int, str], dict[str, Any]] = {}
    for r in rows:
        if r.split != split:
            continue
        cell = cells.setdefault(
            (r.variable, r.step, r.metric),
            {
                "variable": r.variable,
                "step": r.step,
                "metric": r.metric,
                "model": None,
                "naive": None,
                "seasonal_naive": None,
            },
        )
        cell[r.model] = r.value
    return split, [cells[k] for k in sorted(cells)]
