"""Model versions in the database: save (safetensors + JSON), load without unpickling, champions.

Each series has one champion per strategy (recursive, direct). The first model of a strategy
becomes its champion; after that a candidate replaces the champion only if it beats it on the
same recent backtest window (primary metric, default MASE of the targets), or when promoted
explicitly. A failed or worse candidate never replaces what is served.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, defer

from forecaster.backtest import EvaluationReport
from forecaster.db.models import Evaluation as EvaluationRow
from forecaster.db.models import ModelVersion, Series, utcnow
from forecaster.errors import InvalidRequest, NoChampion, UnknownModel
from forecaster.forecasting import TrainedModel, TrainOutcome, evaluate_model

logger = logging.getLogger(__name__)

DEFAULT_METRIC = "mase"
DEFAULT_BACKTEST_ORIGINS = 60
METRICS = ("mae", "rmse", "mape", "smape", "mase")


# --- save and load ----------------------------------------------------------------------


def _naive(ts: pd.Timestamp) -> Any:
    return (
        pd.Timestamp(ts).tz_localize(None).to_pydatetime()
        if pd.Timestamp(ts).tz
        else pd.Timestamp(ts).to_pydatetime()
    )


def save_version(
    *,
    session: Session,
    series_id: int,
    outcome: TrainOutcome,
    run_id: int | None = None,
    status: str = "candidate",
) -> ModelVersion:
    """Store a trained model: weights as safetensors bytes, everything else as JSON, and its figures."""
    model = outcome.model
    state = model.state()
    version = ModelVersion(
        series_id=series_id,
        architecture=model.spec.architecture,
        strategy=model.spec.strategy,
        hyperparameters=state.pop("spec"),
        normalization=state.pop("normalization"),
        feature_spec=state,  # format, freq, variables, targets, module, calibration, data range, fit
        train_start=_naive(outcome.train_range[0]),
        train_end=_naive(outcome.train_range[1]),
        weights=save_safetensors(model.weights()),
        status=status,
        run_id=run_id,
    )
    session.add(version)
    session.flush()
    add_evaluation(session=session, version_id=version.id, report=outcome.report)
    return version


def add_evaluation(*, session: Session, version_id: int, report: EvaluationReport) -> None:
    """Store a report's rows (replacing the same cells); NaN (undefined) figures become NULL."""
    splits = {r.split for r in report.rows}
    session.execute(
        delete(EvaluationRow).where(
            EvaluationRow.model_version_id == version_id, EvaluationRow.split.in_(splits)
        )
    )
    session.add_all(
        EvaluationRow(
            model_version_id=version_id,
            split=r.split,
            model=r.model,
            variable=r.variable,
            step=r.step,
            metric=r.metric,
            value=None if r.value is None or not math.isfinite(r.value) else float(r.value),
        )
        for r in report.rows
    )
    session.flush()


def model_state(version: ModelVersion) -> dict[str, Any]:
    return {
        **version.feature_spec,
        "spec": version.hyperparameters,
        "normalization": version.normalization,
    }


def load_version(version: ModelVersion) -> TrainedModel:
    """Rebuild the model bit for bit; safetensors holds tensors only, so nothing is unpickled."""
    if version.weights is None:
        raise UnknownModel(f"model version {version.id} has no weights (status {version.status})")
    return TrainedModel.from_state(model_state(version), load_safetensors(version.weights))


# --- queries ----------------------------------------------------------------------------


def get_version(*, session: Session, version_id: int) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise UnknownModel(
            f"unknown model version {version_id}; GET /api/v1/models lists the versions"
        )
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
        key = series_key or str(series_id)
        raise NoChampion(
            f"series {key!r} has no {strategy} champion yet; train one with "
            f"`forecaster train {key} --strategy {strategy}` or POST /api/v1/runs "
            f'{{"kind": "retrain", "series": ["{key}"]}}'
        )
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


def report_from_rows(rows: Sequence[EvaluationRow]) -> EvaluationReport:
    from forecaster.backtest import EvalRow

    return EvaluationReport(
        [
            EvalRow(
                r.split,
                r.model,
                r.variable,
                r.step,
                r.metric,
                math.nan if r.value is None else r.value,
            )
            for r in rows
        ]
    )


# --- champions --------------------------------------------------------------------------


def promote(*, session: Session, version_id: int) -> ModelVersion:
    """Make this version its strategy's champion for its series; the old champion is archived.

    The series row is write-locked first, so two promotions of one series serialize (and the
    partial unique index `uq_model_version_champion` makes a second champion impossible).
    """
    series_id = session.scalar(select(ModelVersion.series_id).where(ModelVersion.id == version_id))
    if series_id is not None:
        session.execute(
            update(Series).where(Series.id == series_id).values(revision=Series.revision)
        )
    version = get_version(session=session, version_id=version_id)
    session.refresh(version)
    if version.status == "failed" or version.weights is None:
        raise InvalidRequest(
            f"model version {version_id} failed to train and cannot be promoted; "
            "promote a candidate or archived version"
        )
    old = find_champion(session=session, series_id=version.series_id, strategy=version.strategy)
    if old is not None and old.id != version.id:
        old.status = "archived"
        session.flush()  # one champion per (series, strategy) at every moment
    version.status = "champion"
    version.promoted_at = utcnow()
    session.flush()
    return version


@dataclass
class Decision:
    """What happened to a candidate, with the figures that decided it."""

    version_id: int
    promoted: bool
    reason: str
    metric: str
    candidate_score: float | None = None
    champion_id: int | None = None
    champion_score: float | None = None
    naive_score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id,
            "promoted": self.promoted,
            "reason": self.reason,
            "metric": self.metric,
            "candidate_score": self.candidate_score,
            "champion_id": self.champion_id,
            "champion_score": self.champion_score,
            "naive_score": self.naive_score,
            **self.extra,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def register_candidate(
    *,
    session: Session,
    series_id: int,
    outcome: TrainOutcome,
    frame: pd.DataFrame,
    run_id: int | None = None,
    metric: str = DEFAULT_METRIC,
    origins: int = DEFAULT_BACKTEST_ORIGINS,
    force: bool = False,
    apply: bool = True,
) -> Decision:
    """Save a candidate, backtest it and the current champion on the same recent window, and
    promote it if it is the first of its strategy, if it wins, or if `force`.

    With `apply=False` the decision is only reported (`promoted` means "would be promoted"):
    the retrain flow collects every candidate of a series and promotes the best of them with
    its refreshed forecasts in one transaction (`promote_best`).

    The candidate's backtest rows (split "backtest", beside the naive baselines) are stored with it.
    """
    if metric not in METRICS:
        raise InvalidRequest(f"metric={metric!r} is not one of {', '.join(METRICS)}")
    candidate = outcome.model
    version = save_version(session=session, series_id=series_id, outcome=outcome, run_id=run_id)
    horizon = candidate.spec.horizon
    champion = find_champion(session=session, series_id=series_id, strategy=candidate.spec.strategy)
    champion_model = None
    if champion is not None:
        try:
            champion_model = load_version(champion)
            if champion_model.spec.strategy == "direct":
                horizon = min(horizon, champion_model.spec.horizon)
        except Exception as exc:  # noqa: BLE001 - an unloadable champion is reported, not fatal
            logger.warning("champion %s cannot be loaded: %s", champion.id, exc)
    backtest = evaluate_model(candidate, frame, origins=origins, horizon=horizon)
    add_evaluation(session=session, version_id=version.id, report=backtest)
    score = backtest.score(metric, split="backtest")
    naive = backtest.score(metric, split="backtest", model="naive")
    version.primary_metric, version.primary_score = metric, _finite(score)
    decision = Decision(version.id, False, "", metric, _finite(score), naive_score=_finite(naive))

    if champion is None:
        decision.promoted, decision.reason = (
            True,
            f"first {candidate.spec.strategy} model of the series",
        )
    else:
        decision.champion_id = champion.id
        champion_score = math.nan
        if champion_model is not None:
            try:
                champion_score = evaluate_model(
                    champion_model, frame, origins=origins, horizon=horizon
                ).score(metric, split="backtest")
            except Exception as exc:  # noqa: BLE001
                logger.warning("champion %s cannot be evaluated: %s", champion.id, exc)
        decision.champion_score = _finite(champion_score)
        if force:
            decision.promoted, decision.reason = True, "promoted explicitly"
        elif not math.isfinite(score):
            decision.reason = f"candidate's backtest {metric} is undefined"
        elif not math.isfinite(champion_score):
            decision.promoted = True
            decision.reason = f"champion {champion.id} could not be scored on the current data"
        elif score < champion_score:
            decision.promoted = True
            decision.reason = (
                f"{metric} {score:.4f} beats champion {champion.id}'s {champion_score:.4f}"
            )
        else:
            decision.reason = (
                f"{metric} {score:.4f} does not beat champion {champion.id}'s {champion_score:.4f}"
            )
    if decision.promoted and apply:
        promote(session=session, version_id=version.id)
    logger.info("version %s: %s", version.id, decision.reason)
    return decision


def promote_best(*, session: Session, decisions: Sequence[dict[str, Any]]) -> list[int]:
    """Of one series' candidates that would be promoted (each judged against the same
    champion on the same backtest window), promote the best-scoring one per strategy.

    `decisions` are `Decision.as_dict()` rows with the candidate's `strategy`. Returns the ids
    promoted. Call inside the transaction that also refreshes the series' forecasts.
    """
    best: dict[str, dict[str, Any]] = {}
    for d in decisions:
        if not d.get("promoted") or d.get("failed"):
            continue
        score = d.get("candidate_score")
        key = d["strategy"]
        current = best.get(key)
        if current is None or (
            score is not None
            and (current.get("candidate_score") is None or score < current["candidate_score"])
        ):
            best[key] = d
    for d in best.values():
        promote(session=session, version_id=int(d["version_id"]))
    return [int(d["version_id"]) for d in best.values()]


def record_failure(
    *,
    session: Session,
    series_id: int,
    architecture: str,
    strategy: str,
    spec: dict[str, Any],
    error: str,
    run_id: int | None,
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
    )
    session.add(version)
    session.flush()
    return version
