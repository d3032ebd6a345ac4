"""Model versions in the database: save (safetensors + JSON), load without unpickling, champions.

Each series has one champion per strategy (recursive, direct). The naive and seasonal-naive
baselines are versions too (no weights), refreshed with every candidate registered. A learned
candidate becomes champion only if it beats both the current champion and the best baseline on
the same recent backtest window (primary metric, default MASE of the targets), or when promoted
explicitly; when nothing beats the best baseline, that baseline is the champion and is served.
A failed or worse candidate never replaces what is served.
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
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forecaster.architectures import BASELINES, is_baseline
from forecaster.backtest import EvaluationReport
from forecaster.baselines import BaselineModel, evaluate_baseline, fit_baseline

# the read-only queries live in forecaster.catalog (no torch there); re-exported here
from forecaster.catalog import find_champion as find_champion
from forecaster.catalog import get_champion as get_champion
from forecaster.catalog import get_version as get_version
from forecaster.catalog import list_versions as list_versions
from forecaster.catalog import version_metrics as version_metrics
from forecaster.db import series as series_db
from forecaster.db.models import Evaluation as EvaluationRow
from forecaster.db.models import GlobalModel, ModelVersion, utcnow
from forecaster.errors import InvalidRequest, UnknownModel
from forecaster.forecasting import TrainedModel, TrainOutcome, evaluate_model
from forecaster.global_models import GlobalOutcome

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
    global_model_id: int | None = None,
) -> ModelVersion:
    """Store a trained model: weights as safetensors bytes, everything else as JSON, and its figures.

    A member of a global model (`global_model_id`) stores no weights: they are the global model's.
    """
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
        weights=None if global_model_id is not None else save_safetensors(model.weights()),
        status=status,
        run_id=run_id,
        global_model_id=global_model_id,
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


Predictor = TrainedModel | BaselineModel


def load_version(version: ModelVersion) -> Predictor:
    """Rebuild the model bit for bit; safetensors holds tensors only and a baseline is JSON only,
    so nothing is unpickled."""
    if is_baseline(version.architecture) and version.status != "failed":
        return BaselineModel.from_state(model_state(version))
    blob = version.weights
    if version.global_model is not None:  # a member: the group's network, stored once
        blob = version.global_model.weights
    if blob is None:
        raise UnknownModel(f"model version {version.id} has no weights (status {version.status})")
    return TrainedModel.from_state(model_state(version), load_safetensors(blob))


# --- queries ----------------------------------------------------------------------------


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
    version = get_version(session=session, version_id=version_id)
    series_db.lock_series(session=session, ids=[version.series_id])
    session.refresh(version)  # as of the lock: a concurrent promotion has committed by now
    if version.status == "failed" or (
        not version.trained and not is_baseline(version.architecture)
    ):
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
    """What happened to a candidate, with the figures that decided it and what is served now."""

    version_id: int
    promoted: bool
    reason: str
    metric: str
    candidate_score: float | None = None
    champion_id: int | None = None
    champion_score: float | None = None
    naive_score: float | None = None
    baseline: str | None = None  # the best baseline on the window: "naive" | "seasonal_naive"
    baseline_id: int | None = None
    baseline_score: float | None = None
    served_id: int | None = None  # the strategy's champion after this decision
    served_architecture: str | None = None
    serve_baseline_id: int | None = None  # apply=False: this baseline is to become champion
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline_served(self) -> bool:
        return self.served_architecture is not None and is_baseline(self.served_architecture)

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
            "baseline": self.baseline,
            "baseline_id": self.baseline_id,
            "baseline_score": self.baseline_score,
            "served_id": self.served_id,
            "served_architecture": self.served_architecture,
            "baseline_served": self.baseline_served,
            "serve_baseline_id": self.serve_baseline_id,
            **self.extra,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


BASELINE_WORDS = {"naive": "naive (last value)", "seasonal_naive": "seasonal-naive"}


def find_baseline(
    *, session: Session, series_id: int, strategy: str, architecture: str
) -> ModelVersion | None:
    """The newest baseline version of this kind for the series and strategy."""
    return session.scalar(
        select(ModelVersion)
        .where(
            ModelVersion.series_id == series_id,
            ModelVersion.strategy == strategy,
            ModelVersion.architecture == architecture,
            ModelVersion.status != "failed",
        )
        .order_by(ModelVersion.id.desc())
        .limit(1)
    )


def refresh_baselines(
    *,
    session: Session,
    series_id: int,
    strategy: str,
    frame: pd.DataFrame,
    freq: str,
    targets: Sequence[str],
    horizon: int,
    level: float = 0.9,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    origins: int = DEFAULT_BACKTEST_ORIGINS,
    metric: str = DEFAULT_METRIC,
    run_id: int | None = None,
) -> dict[str, ModelVersion]:
    """Register the naive and seasonal-naive versions of a (series, strategy) on the current data.

    A baseline whose state (data range, targets, calibration) is unchanged is kept and re-scored;
    otherwise a new version replaces it (taking its champion seat when it held one), so a cached
    model or forecast of a version id never goes stale. Calibrated for at least `horizon` steps.
    """
    out: dict[str, ModelVersion] = {}
    for architecture in BASELINES:
        old = find_baseline(
            session=session, series_id=series_id, strategy=strategy, architecture=architecture
        )
        steps = horizon
        if old is not None and list(old.hyperparameters.get("targets") or []) == list(targets):
            steps = max(horizon, int(old.hyperparameters.get("horizon") or 0))
        model = fit_baseline(
            frame,
            architecture=architecture,
            strategy=strategy,
            targets=tuple(targets),
            horizon=steps,
            freq=freq,
            level=level,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
        )
        state = model.state()
        hyper, normalization = state.pop("spec"), state.pop("normalization")
        if old is not None and old.hyperparameters == hyper and old.feature_spec == state:
            version = old
        else:
            start, end = frame.index[0], pd.Timestamp(model.data_range["train_end"])
            version = ModelVersion(
                series_id=series_id,
                architecture=architecture,
                strategy=strategy,
                hyperparameters=hyper,
                normalization=normalization,
                feature_spec=state,
                train_start=_naive(start),
                train_end=_naive(end),
                weights=None,
                status="candidate",
                run_id=run_id,
            )
            session.add(version)
            session.flush()
            if old is not None:
                if old.status == "champion":
                    promote(session=session, version_id=version.id)
                else:
                    old.status = "archived"
        report = evaluate_baseline(model, frame, origins=origins)
        add_evaluation(session=session, version_id=version.id, report=report)
        version.primary_metric = metric
        version.primary_score = _finite(report.score(metric, split="backtest"))
        session.flush()
        out[architecture] = version
    return out


def _best_baseline(backtest: EvaluationReport, metric: str) -> tuple[str | None, float]:
    """The baseline with the lower score on the candidate's own backtest windows (NaN: none)."""
    scores = {b: backtest.score(metric, split="backtest", model=b) for b in BASELINES}
    finite = {b: v for b, v in scores.items() if math.isfinite(v)}
    if not finite:
        return None, math.nan
    best = min(finite, key=lambda b: (finite[b], BASELINES.index(b)))
    return best, finite[best]


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
    global_model_id: int | None = None,
) -> Decision:
    """Save a candidate, refresh the strategy's baselines, backtest the candidate, the champion and
    the baselines on the same recent window, and choose the champion.

    The candidate is promoted if it beats both the champion and the best baseline, or if `force`.
    Otherwise, when the champion does not beat the best baseline either (or there is none), the
    best baseline becomes champion. The candidate's backtest rows (split "backtest", beside the
    naive baselines) are stored with it.

    With `apply=False` nothing is promoted and the decision says what would be
    (`promoted`, or `serve_baseline_id`): the retrain flow collects every candidate of a series
    and applies the best of them with its refreshed forecasts in one transaction
    (`promote_best`).
    """
    if metric not in METRICS:
        raise InvalidRequest(f"metric={metric!r} is not one of {', '.join(METRICS)}")
    candidate = outcome.model
    strategy = candidate.spec.strategy
    version = save_version(
        session=session,
        series_id=series_id,
        outcome=outcome,
        run_id=run_id,
        global_model_id=global_model_id,
    )
    baselines = refresh_baselines(
        session=session,
        series_id=series_id,
        strategy=strategy,
        frame=frame,
        freq=candidate.freq,
        targets=candidate.targets,
        horizon=candidate.spec.horizon,
        level=candidate.spec.level,
        val_fraction=candidate.spec.val_fraction,
        test_fraction=candidate.spec.test_fraction,
        origins=origins,
        metric=metric,
        run_id=run_id,
    )
    horizon = candidate.spec.horizon
    champion = find_champion(session=session, series_id=series_id, strategy=strategy)
    champion_model: Predictor | None = None
    if champion is not None:
        try:
            champion_model = load_version(champion)
            if (
                isinstance(champion_model, TrainedModel)
                and champion_model.spec.strategy == "direct"
            ):
                horizon = min(horizon, champion_model.spec.horizon)
        except Exception as exc:  # noqa: BLE001 - an unloadable champion is reported, not fatal
            logger.warning("champion %s cannot be loaded: %s", champion.id, exc)
    backtest = evaluate_model(candidate, frame, origins=origins, horizon=horizon)
    add_evaluation(session=session, version_id=version.id, report=backtest)
    score = backtest.score(metric, split="backtest")
    naive = backtest.score(metric, split="backtest", model="naive")
    best, base_score = _best_baseline(backtest, metric)
    version.primary_metric, version.primary_score = metric, _finite(score)
    decision = Decision(version.id, False, "", metric, _finite(score), naive_score=_finite(naive))
    if best is not None:
        decision.baseline = best
        decision.baseline_id = baselines[best].id
        decision.baseline_score = base_score
    base_words = f"the {BASELINE_WORDS[best]} baseline's" if best else ""

    champion_score = math.nan
    learned_champion = champion is not None and not is_baseline(champion.architecture)
    if champion is not None and learned_champion:
        decision.champion_id = champion.id
        if isinstance(champion_model, TrainedModel):
            try:
                champion_score = evaluate_model(
                    champion_model, frame, origins=origins, horizon=horizon
                ).score(metric, split="backtest")
            except Exception as exc:  # noqa: BLE001
                logger.warning("champion %s cannot be evaluated: %s", champion.id, exc)
        decision.champion_score = _finite(champion_score)
    elif champion is not None:  # a baseline champion: its score on these very windows
        decision.champion_id = champion.id
        champion_score = backtest.score(metric, split="backtest", model=champion.architecture)
        decision.champion_score = _finite(champion_score)

    beats_base = best is None or (math.isfinite(score) and score < base_score)
    beats_champion = (
        not learned_champion
        or not math.isfinite(champion_score)
        or (math.isfinite(score) and score < champion_score)
    )
    if force:
        decision.promoted, decision.reason = True, "promoted explicitly"
    elif not math.isfinite(score):
        decision.reason = f"candidate's backtest {metric} is undefined"
    elif not beats_base:
        decision.reason = (
            f"{metric} {score:.4f} does not beat {base_words} {base_score:.4f}: no skill"
        )
    elif not beats_champion:
        assert champion is not None
        decision.reason = (
            f"{metric} {score:.4f} does not beat champion {champion.id}'s {champion_score:.4f}"
        )
    else:
        versus = []
        if learned_champion and champion is not None:
            versus.append(
                f"champion {champion.id}'s {champion_score:.4f}"
                if math.isfinite(champion_score)
                else f"champion {champion.id} (which could not be scored on the current data)"
            )
        if best is not None:
            versus.append(f"{base_words} {base_score:.4f}")
        decision.promoted = True
        decision.reason = (
            f"{metric} {score:.4f} beats {' and '.join(versus)}"
            if versus
            else f"first {strategy} model of the series (no baseline could be scored)"
        )
    if decision.promoted:
        if apply:
            promote(session=session, version_id=version.id)
        decision.served_id, decision.served_architecture = version.id, version.architecture
    elif best is not None and not (
        learned_champion and math.isfinite(champion_score) and champion_score < base_score
    ):
        # nothing learned beats the best baseline on this window: the baseline is served
        served = baselines[best]
        if served.status != "champion":
            if apply:
                promote(session=session, version_id=served.id)
            decision.serve_baseline_id = served.id
        decision.reason += f"; the {BASELINE_WORDS[best]} baseline (version {served.id}) is served"
        decision.served_id, decision.served_architecture = served.id, served.architecture
    elif champion is not None:
        decision.served_id, decision.served_architecture = champion.id, champion.architecture
    logger.info("version %s: %s", version.id, decision.reason)
    return decision


def promote_best(*, session: Session, decisions: Sequence[dict[str, Any]]) -> list[int]:
    """Apply one series' decisions (taken with `apply=False`) in the caller's transaction.

    Per strategy: of the candidates that would be promoted (each judged against the same
    champion and baselines on the same backtest window), the best-scoring one becomes champion;
    when none would be, a baseline that is to be served becomes champion. `decisions` are
    `Decision.as_dict()` rows with the candidate's `strategy`. Returns the ids promoted. Call
    inside the transaction that also refreshes the series' forecasts.
    """
    best: dict[str, dict[str, Any]] = {}
    baseline: dict[str, int] = {}
    for d in decisions:
        if d.get("failed") or d.get("cancelled"):
            continue
        key = d["strategy"]
        if d.get("serve_baseline_id") is not None:
            baseline.setdefault(key, int(d["serve_baseline_id"]))
        if not d.get("promoted"):
            continue
        score = d.get("candidate_score")
        current = best.get(key)
        if current is None or (
            score is not None
            and (current.get("candidate_score") is None or score < current["candidate_score"])
        ):
            best[key] = d
    promoted = []
    for key in sorted(set(best) | set(baseline)):
        version_id = int(best[key]["version_id"]) if key in best else baseline[key]
        promote(session=session, version_id=version_id)
        promoted.append(version_id)
    return promoted


def register_global(
    *,
    session: Session,
    group: str,
    outcome: GlobalOutcome,
    series_ids: dict[str, int],
    frames: dict[str, pd.DataFrame],
    run_id: int | None = None,
    metric: str = DEFAULT_METRIC,
    origins: dict[str, int] | None = None,
    apply: bool = True,
) -> tuple[GlobalModel, dict[str, Decision]]:
    """Store a global model once, and one version per member, each judged by the champion rule
    against that member's own champion and baselines on its own recent window (so a member keeps
    its own model where that is better).

    Returns the global model row and each member's decision (see `register_candidate`).
    """
    spec = outcome.spec
    row = GlobalModel(
        group=group,
        architecture=spec.architecture,
        strategy=spec.strategy,
        hyperparameters=spec.to_dict(),
        members=list(outcome.members),
        embedding_dim=outcome.embedding_dim,
        weights=save_safetensors(outcome.weights()),
        fit=outcome.fit.to_dict(),
        run_id=run_id,
    )
    session.add(row)
    session.flush()
    decisions = {}
    for key in outcome.members:
        decisions[key] = register_candidate(
            session=session,
            series_id=series_ids[key],
            outcome=outcome.outcomes[key],
            frame=frames[key],
            run_id=run_id,
            metric=metric,
            origins=(origins or {}).get(key, DEFAULT_BACKTEST_ORIGINS),
            apply=apply,
            global_model_id=row.id,
        )
    return row, decisions


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
    return version
