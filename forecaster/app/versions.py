"""Use cases on model versions: register a candidate and judge it by the champion rule, promote,
refresh the baselines, register a global model (a crash is recorded by forecaster.app.failures).

The rule itself is forecaster.champion (pure); here its figures are read and its verdict written.
Each function takes the caller's session and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
from sqlalchemy.orm import Session

from forecaster import champion as rule
from forecaster.app.catalog import find_champion, get_version
from forecaster.app.runs import ensure_active
from forecaster.architectures import BASELINES, is_baseline
from forecaster.backtest import EvaluationReport
from forecaster.baselines import BaselineModel, evaluate_baseline, fit_baseline
from forecaster.champion import DEFAULT_BACKTEST_ORIGINS, DEFAULT_METRIC, Decision, Rival
from forecaster.db import series as series_db
from forecaster.db.models import GlobalModel, ModelVersion, utcnow
from forecaster.db.versions import (
    add_evaluation,
    find_baseline,
    load_version,
    save_baseline,
    save_global_model,
    save_version,
)
from forecaster.errors import InvalidRequest
from forecaster.forecasting.predictor import Predictor, TrainedModel
from forecaster.forecasting.train import TrainOutcome, evaluate_model
from forecaster.global_models import GlobalOutcome
from forecaster.values import finite_or_none

logger = logging.getLogger(__name__)


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


def promote_best(*, session: Session, decisions: Sequence[Decision]) -> list[int]:
    """Apply one series' decisions (taken with `apply=False`) in the caller's transaction: per
    strategy the best winner, else a baseline that is to serve (champion.winners). Returns the
    ids promoted. Call inside the transaction that also refreshes the series' forecasts."""
    promoted = rule.winners(decisions)
    for version_id in promoted:
        promote(session=session, version_id=version_id)
    return promoted


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
    apply: bool = True,
) -> dict[str, ModelVersion]:
    """Register the naive and seasonal-naive versions of a (series, strategy) on the current data.

    A baseline whose state (data range, targets, calibration) is unchanged is kept and re-scored;
    otherwise a new version replaces it (taking its champion seat when it held one), so a cached
    model or forecast of a version id never goes stale. Calibrated for at least `horizon` steps.
    With `apply=False` a new version takes no seat: the retrain flow seats it when its series
    commits (`seat_baselines`), so a run that fails first changes no champion.
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
        version = _keep_or_replace(session, old, model, series_id, frame.index[0], run_id, apply)
        report = evaluate_baseline(model, frame, origins=origins)
        add_evaluation(session=session, version_id=version.id, report=report)
        version.primary_metric = metric
        version.primary_score = finite_or_none(report.score(metric, split="backtest"))
        session.flush()
        out[architecture] = version
    ensure_active(session=session, run_id=run_id, what=f"the {strategy} baselines")
    return out


def _keep_or_replace(
    session: Session,
    old: ModelVersion | None,
    model: BaselineModel,
    series_id: int,
    train_start: pd.Timestamp,
    run_id: int | None,
    apply: bool,
) -> ModelVersion:
    """The old baseline if its state is unchanged, else a new version in its place (taking its
    champion seat if it held one, when `apply`; the old one archived otherwise)."""
    state = model.state()
    hyper, _ = state.pop("spec"), state.pop("normalization")
    if old is not None and old.hyperparameters == hyper and old.feature_spec == state:
        return old
    version = save_baseline(
        session=session, series_id=series_id, model=model, train_start=train_start, run_id=run_id
    )
    if old is not None:
        if old.status == "champion":
            if apply:
                promote(session=session, version_id=version.id)
        else:
            old.status = "archived"
    return version


def seat_baselines(*, session: Session, series_id: int, strategy: str) -> int | None:
    """What `refresh_baselines(apply=False)` left to do, in the transaction that commits the
    series: a baseline champion gives its seat to the newest version of its kind, and with no
    champion at all the better-scored of the newest baselines serves. Returns the id promoted."""
    champion = find_champion(session=session, series_id=series_id, strategy=strategy)
    newest = {
        name: found
        for name in BASELINES
        if (found := find_baseline(
            session=session, series_id=series_id, strategy=strategy, architecture=name
        )) is not None
    }  # fmt: skip
    chosen: ModelVersion | None = None
    if champion is None:
        scored = [v for v in newest.values() if v.primary_score is not None]
        chosen = min(scored, key=lambda v: float(v.primary_score or 0.0), default=None)
    elif is_baseline(champion.architecture) and champion.architecture in newest:
        chosen = newest[champion.architecture]
    if chosen is None or (champion is not None and chosen.id == champion.id):
        return None
    promote(session=session, version_id=chosen.id)
    return chosen.id


def _load_champion(champion: ModelVersion | None, horizon: int) -> tuple[Predictor | None, int]:
    """The champion's model (None: none, or it cannot be loaded) and the horizon both can score:
    a direct champion forecasts no further than its own horizon."""
    if champion is None:
        return None, horizon
    try:
        model = load_version(champion)
    except Exception as exc:  # noqa: BLE001 - an unloadable champion is reported, not fatal
        logger.warning("champion %s cannot be loaded: %s", champion.id, exc)
        return None, horizon
    if isinstance(model, TrainedModel) and model.spec.strategy == "direct":
        horizon = min(horizon, model.spec.horizon)
    return model, horizon


def _champion_rival(
    champion: ModelVersion | None,
    model: Predictor | None,
    backtest: EvaluationReport,
    frame: pd.DataFrame,
    metric: str,
    origins: int,
    horizon: int,
) -> Rival | None:
    """The champion with its score on the candidate's window: a learned one is backtested there
    (NaN when it cannot be); a baseline champion's score is its column of the candidate's rows."""
    if champion is None:
        return None
    if is_baseline(champion.architecture):
        score = backtest.score(metric, split="backtest", model=champion.architecture)
        return Rival(champion.id, champion.architecture, score)
    score = float("nan")
    if isinstance(model, TrainedModel):
        try:
            score = evaluate_model(model, frame, origins=origins, horizon=horizon).score(
                metric, split="backtest"
            )
        except Exception as exc:  # noqa: BLE001
            logger.warning("champion %s cannot be evaluated: %s", champion.id, exc)
    return Rival(champion.id, champion.architecture, score)


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
    the baselines on the same recent window, and choose the champion (champion.decide).

    The candidate's backtest rows (split "backtest", beside the naive baselines) are stored with
    it. With `apply=False` nothing is promoted and the decision says what would be (`promoted`,
    or `serve_baseline_id`): the retrain flow collects every candidate of a series and applies
    the best of them with its refreshed forecasts in one transaction (`promote_best`).
    """
    rule.check_metric(metric)
    candidate = outcome.model
    spec = candidate.spec
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
        strategy=spec.strategy,
        frame=frame,
        freq=candidate.freq,
        targets=candidate.targets,
        horizon=spec.horizon,
        level=spec.level,
        val_fraction=spec.val_fraction,
        test_fraction=spec.test_fraction,
        origins=origins,
        metric=metric,
        run_id=run_id,
        apply=apply,
    )
    decision = _decide(session, version, candidate, baselines, frame, metric, origins, force, apply)
    # last, so the run cannot end between this check and the caller's commit
    ensure_active(session=session, run_id=run_id, what=f"{spec.architecture}/{spec.strategy}")
    logger.info("version %s: %s", version.id, decision.reason)
    return decision


def _decide(
    session: Session,
    version: ModelVersion,
    candidate: TrainedModel,
    baselines: dict[str, ModelVersion],
    frame: pd.DataFrame,
    metric: str,
    origins: int,
    force: bool,
    apply: bool,
) -> Decision:
    """Backtest the candidate (its rows and score stored with it) and the champion on the same
    recent window, apply the rule and write its verdict (when `apply`)."""
    champion = find_champion(
        session=session, series_id=version.series_id, strategy=candidate.spec.strategy
    )
    champion_model, horizon = _load_champion(champion, candidate.spec.horizon)
    backtest = evaluate_model(candidate, frame, origins=origins, horizon=horizon)
    add_evaluation(session=session, version_id=version.id, report=backtest)
    version.primary_metric = metric
    version.primary_score = finite_or_none(backtest.score(metric, split="backtest"))
    rival = _champion_rival(champion, champion_model, backtest, frame, metric, origins, horizon)
    decision, verdict = rule.judge(
        backtest,
        version_id=version.id,
        strategy=candidate.spec.strategy,
        metric=metric,
        champion=rival,
        baseline_ids={name: v.id for name, v in baselines.items()},
        force=force,
    )
    return _serve(session, decision, verdict.served, version, champion, baselines, apply)


def _serve(
    session: Session,
    decision: Decision,
    served: str | None,
    version: ModelVersion,
    champion: ModelVersion | None,
    baselines: dict[str, ModelVersion],
    apply: bool,
) -> Decision:
    """Write the verdict (when `apply`) and say which version serves after it."""
    if served == "candidate":
        if apply:
            promote(session=session, version_id=version.id)
        return replace(decision, served_id=version.id, served_architecture=version.architecture)
    if served == "baseline":
        assert decision.baseline is not None
        chosen = baselines[decision.baseline]
        serve_id = None
        if chosen.status != "champion":
            if apply:
                promote(session=session, version_id=chosen.id)
            serve_id = chosen.id
        return replace(
            decision,
            served_id=chosen.id,
            served_architecture=chosen.architecture,
            serve_baseline_id=serve_id,
        )
    if served == "champion" and champion is not None:
        return replace(decision, served_id=champion.id, served_architecture=champion.architecture)
    return decision


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
    row = save_global_model(session=session, group=group, outcome=outcome, run_id=run_id)
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
