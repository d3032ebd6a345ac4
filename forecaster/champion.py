"""The champion rule: a candidate's, the champion's and the best baseline's figures on one recent
backtest window in, a verdict and its reason out. Pure: no session, no database, no model.

A learned candidate becomes champion only if it beats both the current champion and the best
baseline on the same window (primary metric, default MASE of the targets), or when promoted
explicitly; when nothing beats the best baseline, that baseline is the champion and is served.
A failed or worse candidate never replaces what is served.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from forecaster.architectures import BASELINES, is_baseline
from forecaster.errors import InvalidRequest
from forecaster.values import finite_or_none

if TYPE_CHECKING:
    from forecaster.backtest import EvaluationReport

DEFAULT_METRIC = "mase"
DEFAULT_BACKTEST_ORIGINS = 60
METRICS = ("mae", "rmse", "mape", "smape", "mase")
BASELINE_WORDS = {"naive": "naive (last value)", "seasonal_naive": "seasonal-naive"}

Served = Literal["candidate", "champion", "baseline"]


def check_metric(metric: str) -> None:
    """Raises InvalidRequest unless `metric` is one the rule can judge by."""
    if metric not in METRICS:
        raise InvalidRequest(f"metric={metric!r} is not one of {', '.join(METRICS)}")


@dataclass(frozen=True)
class Rival:
    """A version the candidate is judged against, with its score on the candidate's window
    (NaN: it could not be scored there)."""

    version_id: int
    architecture: str
    score: float

    @property
    def baseline(self) -> bool:
        return is_baseline(self.architecture)


@dataclass(frozen=True)
class Verdict:
    """What the rule decided: whether the candidate is promoted, why, and what serves after."""

    promoted: bool
    reason: str
    served: Served | None  # None: nothing serves (no champion, no baseline, not promoted)


def best_baseline(scores: Mapping[str, float]) -> tuple[str | None, float]:
    """The baseline with the lower score on the candidate's own backtest windows (NaN: none).

    Ties go to the first of BASELINES (naive before seasonal-naive).
    """
    usable = {b: v for b, v in scores.items() if b in BASELINES and math.isfinite(v)}
    if not usable:
        return None, math.nan
    best = min(usable, key=lambda b: (usable[b], BASELINES.index(b)))
    return best, usable[best]


def _win_reason(
    score: float, *, metric: str, strategy: str, champion: Rival | None, baseline: Rival | None
) -> str:
    versus = []
    if champion is not None and not champion.baseline:
        versus.append(
            f"champion {champion.version_id}'s {champion.score:.4f}"
            if math.isfinite(champion.score)
            else f"champion {champion.version_id} (which could not be scored on the current data)"
        )
    if baseline is not None:
        versus.append(
            f"the {BASELINE_WORDS[baseline.architecture]} baseline's {baseline.score:.4f}"
        )
    if not versus:
        return f"first {strategy} model of the series (no baseline could be scored)"
    return f"{metric} {score:.4f} beats {' and '.join(versus)}"


def decide(
    score: float,
    *,
    metric: str,
    strategy: str,
    champion: Rival | None,
    baseline: Rival | None,
    force: bool = False,
) -> Verdict:
    """Judge a candidate's `score` (lower is better; NaN: undefined) against the champion and
    the best baseline, all on the same window.

    A baseline champion is not a rival of its own (the best baseline is); a learned champion
    that could not be scored (NaN) is no bar. A baseline without a finite score counts as none.
    """
    if baseline is not None and not math.isfinite(baseline.score):
        baseline = None
    learned = champion is not None and not champion.baseline
    champion_score = champion.score if champion is not None else math.nan
    scored = math.isfinite(score)
    beats_base = baseline is None or (scored and score < baseline.score)
    beats_champion = (
        not learned or not math.isfinite(champion_score) or (scored and score < champion_score)
    )
    promoted = False
    if force:
        promoted, reason = True, "promoted explicitly"
    elif not scored:
        reason = f"candidate's backtest {metric} is undefined"
    elif not beats_base:
        assert baseline is not None
        words = BASELINE_WORDS[baseline.architecture]
        reason = f"{metric} {score:.4f} does not beat the {words} baseline's {baseline.score:.4f}"
        reason += ": no skill"
    elif not beats_champion:
        assert champion is not None
        reason = (
            f"{metric} {score:.4f} does not beat champion {champion.version_id}'s "
            f"{champion_score:.4f}"
        )
    else:
        promoted = True
        reason = _win_reason(
            score, metric=metric, strategy=strategy, champion=champion, baseline=baseline
        )
    if promoted:
        return Verdict(True, reason, "candidate")
    if baseline is not None and not (
        learned and math.isfinite(champion_score) and champion_score < baseline.score
    ):
        # nothing learned beats the best baseline on this window: the baseline is served
        words = BASELINE_WORDS[baseline.architecture]
        return Verdict(
            False, f"{reason}; the {words} baseline (version {baseline.version_id}) is served",
            "baseline",
        )  # fmt: skip
    return Verdict(False, reason, "champion" if champion is not None else None)


@dataclass(frozen=True)
class Decision:
    """What happened to a candidate, with the figures that decided it and what is served now."""

    version_id: int
    strategy: str
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
    extra: Mapping[str, Any] = field(default_factory=dict)  # the fit's facts (training_facts)

    @property
    def baseline_served(self) -> bool:
        return self.served_architecture is not None and is_baseline(self.served_architecture)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id,
            "strategy": self.strategy,
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


def judge(
    backtest: EvaluationReport,
    *,
    version_id: int,
    strategy: str,
    metric: str,
    champion: Rival | None,
    baseline_ids: Mapping[str, int],
    force: bool = False,
) -> tuple[Decision, Verdict]:
    """The decision on a candidate from its backtest rows, which hold the baselines' forecasts of
    the same windows beside its own (split "backtest"); `baseline_ids` are the baselines'
    versions. The decision's served fields are left for the caller, who knows the statuses."""
    score = backtest.score(metric, split="backtest")
    best, base_score = best_baseline(
        {b: backtest.score(metric, split="backtest", model=b) for b in BASELINES}
    )
    baseline = None if best is None else Rival(baseline_ids[best], best, base_score)
    verdict = decide(
        score, metric=metric, strategy=strategy, champion=champion, baseline=baseline, force=force
    )
    decision = Decision(
        version_id,
        strategy,
        verdict.promoted,
        verdict.reason,
        metric,
        candidate_score=finite_or_none(score),
        champion_id=None if champion is None else champion.version_id,
        champion_score=None if champion is None else finite_or_none(champion.score),
        naive_score=finite_or_none(backtest.score(metric, split="backtest", model="naive")),
        baseline=best,
        baseline_id=None if baseline is None else baseline.version_id,
        baseline_score=None if baseline is None else base_score,
    )
    return decision, verdict


def winners(decisions: Sequence[Decision]) -> list[int]:
    """The versions to promote from decisions taken with `apply=False`, in strategy order.

    Per strategy: of the candidates that would be promoted (each judged against the same
    champion and baselines on the same window), the best-scoring one (the first on a tie, a
    scored one before an unscored one); when none would be, the first baseline that is to serve.
    """
    best: dict[str, Decision] = {}
    baseline: dict[str, int] = {}
    for d in decisions:
        if d.serve_baseline_id is not None:
            baseline.setdefault(d.strategy, d.serve_baseline_id)
        if not d.promoted:
            continue
        current = best.get(d.strategy)
        if current is None or (
            d.candidate_score is not None
            and (current.candidate_score is None or d.candidate_score < current.candidate_score)
        ):
            best[d.strategy] = d
    return [
        best[key].version_id if key in best else baseline[key]
        for key in sorted(set(best) | set(baseline))
    ]
