"""The champion rule as a table: scores in, a verdict and its reason out (no database)."""

from __future__ import annotations

import math

import pytest

from forecaster.backtest import EvalRow, EvaluationReport
from forecaster.champion import (
    Decision,
    Rival,
    Verdict,
    best_baseline,
    check_metric,
    decide,
    judge,
    winners,
)
from forecaster.errors import InvalidRequest

NAN = math.nan
GRU = Rival(7, "gru", 0.9)  # a learned champion scoring 0.9 on the candidate's window
NAIVE = Rival(3, "naive", 1.0)  # the best baseline on that window
SNAIVE = Rival(4, "seasonal_naive", 1.0)
NAIVE_WORDS = "the naive (last value) baseline's 1.0000"
SERVES_NAIVE = "; the naive (last value) baseline (version 3) is served"


@pytest.mark.parametrize(
    ("score", "champion", "baseline", "force", "expected"),
    [
        # beats both the champion and the best baseline: it serves
        (0.8, GRU, NAIVE, False,
         Verdict(True, f"mase 0.8000 beats champion 7's 0.9000 and {NAIVE_WORDS}", "candidate")),
        # loses to the baseline, no champion yet: no skill, the baseline serves
        (1.1, None, NAIVE, False,
         Verdict(False, f"mase 1.1000 does not beat {NAIVE_WORDS}: no skill{SERVES_NAIVE}",
                 "baseline")),
        # beats the baseline but not the champion, which beats the baseline: the champion stays
        (0.95, GRU, NAIVE, False,
         Verdict(False, "mase 0.9500 does not beat champion 7's 0.9000", "champion")),
        # ties the baseline: a tie is no win (strictly lower is better)
        (1.0, None, NAIVE, False,
         Verdict(False, f"mase 1.0000 does not beat {NAIVE_WORDS}: no skill{SERVES_NAIVE}",
                 "baseline")),
        # ties the champion: the champion stays
        (0.9, GRU, NAIVE, False,
         Verdict(False, "mase 0.9000 does not beat champion 7's 0.9000", "champion")),
        # no champion yet, beats the seasonal-naive baseline: the first model serves
        (0.8, None, SNAIVE, False,
         Verdict(True, "mase 0.8000 beats the seasonal-naive baseline's 1.0000", "candidate")),
        # no champion and no baseline could be scored: the first model serves
        (0.8, None, None, False,
         Verdict(True, "first recursive model of the series (no baseline could be scored)",
                 "candidate")),
        # a baseline without a finite score counts as none
        (0.8, None, Rival(3, "naive", NAN), False,
         Verdict(True, "first recursive model of the series (no baseline could be scored)",
                 "candidate")),
        # the candidate's score is NaN: never promoted; the better-than-baseline champion stays
        (NAN, GRU, NAIVE, False,
         Verdict(False, "candidate's backtest mase is undefined", "champion")),
        # NaN candidate and no champion: the baseline serves
        (NAN, None, NAIVE, False,
         Verdict(False, f"candidate's backtest mase is undefined{SERVES_NAIVE}", "baseline")),
        # NaN candidate, no champion, no baseline: nothing serves
        (NAN, None, None, False, Verdict(False, "candidate's backtest mase is undefined", None)),
        # the champion could not be scored on the current data (NaN): it is no bar
        (0.8, Rival(7, "gru", NAN), NAIVE, False,
         Verdict(True, "mase 0.8000 beats champion 7 (which could not be scored on the current "
                 f"data) and {NAIVE_WORDS}", "candidate")),
        # an unscored champion and a candidate without skill: the baseline serves
        (1.2, Rival(7, "gru", NAN), NAIVE, False,
         Verdict(False, f"mase 1.2000 does not beat {NAIVE_WORDS}: no skill{SERVES_NAIVE}",
                 "baseline")),
        # a baseline champion is no rival of its own: the best baseline is the bar
        (0.8, Rival(3, "naive", 1.0), NAIVE, False,
         Verdict(True, f"mase 0.8000 beats {NAIVE_WORDS}", "candidate")),
        # a baseline champion and a candidate without skill: the (same) baseline serves
        (1.2, Rival(3, "naive", 1.0), NAIVE, False,
         Verdict(False, f"mase 1.2000 does not beat {NAIVE_WORDS}: no skill{SERVES_NAIVE}",
                 "baseline")),
        # the champion lost its skill (worse than the baseline now): the baseline takes over
        (1.05, Rival(7, "gru", 1.1), NAIVE, False,
         Verdict(False, f"mase 1.0500 does not beat {NAIVE_WORDS}: no skill{SERVES_NAIVE}",
                 "baseline")),
        # promoted explicitly, however it scored
        (2.0, GRU, NAIVE, True, Verdict(True, "promoted explicitly", "candidate")),
        (NAN, None, None, True, Verdict(True, "promoted explicitly", "candidate")),
    ],
)  # fmt: skip
def test_decide(
    score: float, champion: Rival | None, baseline: Rival | None, force: bool, expected: Verdict
) -> None:
    verdict = decide(
        score, metric="mase", strategy="recursive", champion=champion, baseline=baseline,
        force=force,
    )  # fmt: skip
    assert verdict == expected


def test_the_reason_names_the_metric() -> None:
    verdict = decide(2.5, metric="mae", strategy="direct", champion=None, baseline=NAIVE)
    assert verdict.reason.startswith("mae 2.5000 does not beat")


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"naive": 1.0, "seasonal_naive": 0.9}, ("seasonal_naive", 0.9)),  # the lower
        ({"naive": 1.0, "seasonal_naive": 1.0}, ("naive", 1.0)),  # a tie: naive first
        ({"naive": NAN, "seasonal_naive": 1.2}, ("seasonal_naive", 1.2)),  # NaN is no score
        ({"naive": NAN, "seasonal_naive": math.inf}, (None, NAN)),  # none scored
        ({}, (None, NAN)),
    ],
)
def test_best_baseline(scores: dict[str, float], expected: tuple[str | None, float]) -> None:
    name, score = best_baseline(scores)
    assert name == expected[0]
    assert score == expected[1] or (math.isnan(score) and math.isnan(expected[1]))


def test_an_unknown_metric_is_refused() -> None:
    check_metric("mase")
    with pytest.raises(InvalidRequest, match="metric='r2' is not one of mae, rmse"):
        check_metric("r2")


def _report(model: float, naive: float, seasonal: float) -> EvaluationReport:
    figures = {"model": model, "naive": naive, "seasonal_naive": seasonal}
    return EvaluationReport([EvalRow("backtest", m, "y", 0, "mase", v) for m, v in figures.items()])


def test_judge_reads_the_candidates_rows_and_fills_the_decision() -> None:
    decision, verdict = judge(
        _report(0.8, 1.0, 1.1),
        version_id=12,
        strategy="direct",
        metric="mase",
        champion=GRU,
        baseline_ids={"naive": 3, "seasonal_naive": 4},
    )
    assert verdict.served == "candidate" and decision.promoted
    assert decision == Decision(
        12, "direct", True, verdict.reason, "mase", candidate_score=0.8, champion_id=7,
        champion_score=0.9, naive_score=1.0, baseline="naive", baseline_id=3, baseline_score=1.0,
    )  # fmt: skip
    # undefined figures are None in the decision
    decision, _ = judge(
        _report(NAN, NAN, NAN),
        version_id=13,
        strategy="direct",
        metric="mase",
        champion=Rival(7, "gru", NAN),
        baseline_ids={"naive": 3, "seasonal_naive": 4},
    )
    assert (decision.candidate_score, decision.champion_score, decision.naive_score) == (
        None,
        None,
        None,
    )
    assert decision.baseline is None and decision.baseline_id is None and not decision.promoted


def _d(version_id: int, strategy: str, promoted: bool, score: float | None,
       serve_baseline_id: int | None = None) -> Decision:  # fmt: skip
    return Decision(version_id, strategy, promoted, "", "mase", candidate_score=score,
                    serve_baseline_id=serve_baseline_id)  # fmt: skip


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        # the better of two winners of one strategy
        ([_d(1, "direct", True, 0.9), _d(2, "direct", True, 0.8)], [2]),
        # a tie: the first
        ([_d(1, "direct", True, 0.8), _d(2, "direct", True, 0.8)], [1]),
        # a scored winner before an unscored (explicitly promoted) one
        ([_d(1, "direct", True, None), _d(2, "direct", True, 0.8)], [2]),
        # per strategy, in strategy order
        ([_d(1, "recursive", True, 0.9), _d(2, "direct", True, 0.95)], [2, 1]),
        # no winner: the baseline that is to serve
        ([_d(1, "direct", False, 1.2, serve_baseline_id=3)], [3]),
        # a winner beats a baseline that another candidate would have served
        ([_d(1, "direct", False, 1.2, serve_baseline_id=3), _d(2, "direct", True, 0.8)], [2]),
        # nothing to promote
        ([_d(1, "direct", False, 1.2)], []),
        ([], []),
    ],
)
def test_winners(decisions: list[Decision], expected: list[int]) -> None:
    assert winners(decisions) == expected


def test_a_decision_says_whether_a_baseline_serves_and_carries_the_fits_facts() -> None:
    decision = Decision(1, "direct", False, "r", "mase", served_id=3, served_architecture="naive",
                        extra={"cut_short": True})  # fmt: skip
    assert decision.baseline_served
    row = decision.as_dict()
    assert row["baseline_served"] is True and row["cut_short"] is True
    assert row["served_id"] == 3 and row["strategy"] == "direct"
