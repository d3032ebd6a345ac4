"""The retrain plan and its reconciliation as tables: config and series in, jobs out; task
results in, the run's result out (no database, no Prefect)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from forecaster.champion import Decision
from forecaster.retrain_config import GroupConfig, RetrainConfig
from forecaster.retrain_plan import (
    OUTSCORED,
    CandidateResult,
    Placement,
    RetrainResult,
    decisions_of,
    plan_retrain,
    settle,
)

GRU_DIRECT = {"architecture": "gru", "strategy": "direct"}
LSTM_RECURSIVE = {"architecture": "lstm", "strategy": "recursive"}


def _config(
    candidates: list[dict[str, Any]], groups: dict[str, GroupConfig] | None = None, **by: Any
) -> RetrainConfig:
    return RetrainConfig(
        metric="mase",
        backtest_origins=30,
        defaults={"lookback": 28, "horizon": 7},
        by_frequency={"B": {"horizon": 5}},
        by_series=by,
        candidates=candidates,
        quick={"epochs": 1},
        groups=groups or {},
    )


def _names(jobs: Any) -> list[tuple[str, str, str, int]]:
    return [(j.series_key, j.spec.architecture, j.spec.strategy, j.spec.horizon) for j in jobs]


STOCKS = GroupConfig("stocks", frequency="B", embedding_dim=3)
PAIR = GroupConfig("pair", series=("sea", "chi"), candidates=({**GRU_DIRECT, "horizon": 14},))


@pytest.mark.parametrize(
    ("config", "series", "candidates", "baselines", "groups", "skipped"),
    [
        # one candidate per series and config entry, in series order; baselines per strategy
        (_config([GRU_DIRECT, LSTM_RECURSIVE]), [("sea", "D"), ("AAPL", "B")],
         [("sea", "gru", "direct", 7), ("sea", "lstm", "recursive", 7),
          ("AAPL", "gru", "direct", 5), ("AAPL", "lstm", "recursive", 5)],
         [("sea", "gru", "direct", 7), ("sea", "lstm", "recursive", 7),
          ("AAPL", "gru", "direct", 5), ("AAPL", "lstm", "recursive", 5)],
         [], []),
        # two candidates of one strategy: the baselines are calibrated for the longer one
        (_config([GRU_DIRECT, {**LSTM_RECURSIVE, "strategy": "direct", "horizon": 10}]),
         [("sea", "D")],
         [("sea", "gru", "direct", 7), ("sea", "lstm", "direct", 10)],
         [("sea", "lstm", "direct", 10)], [], []),
        # equally long: the first of them
        (_config([GRU_DIRECT, {**LSTM_RECURSIVE, "strategy": "direct"}]), [("sea", "D")],
         [("sea", "gru", "direct", 7), ("sea", "lstm", "direct", 7)],
         [("sea", "gru", "direct", 7)], [], []),
        # a series' own overrides
        (_config([GRU_DIRECT], sea={"horizon": 3}), [("sea", "D")],
         [("sea", "gru", "direct", 3)], [("sea", "gru", "direct", 3)], [], []),
        # a group of two members trains; a global candidate's horizon counts for the baselines
        (_config([GRU_DIRECT], {"pair": PAIR}), [("sea", "D"), ("chi", "D")],
         [("sea", "gru", "direct", 7), ("chi", "gru", "direct", 7)],
         [("sea", "gru", "direct", 14), ("chi", "gru", "direct", 14)],
         [("pair", ("sea", "chi"), 14)], []),
        # a group with one member in this run does not train (and is named for the log)
        (_config([GRU_DIRECT], {"pair": PAIR, "stocks": STOCKS}), [("sea", "D"), ("AAPL", "B")],
         [("sea", "gru", "direct", 7), ("AAPL", "gru", "direct", 5)],
         [("sea", "gru", "direct", 7), ("AAPL", "gru", "direct", 5)],
         [], [("pair", 1), ("stocks", 1)]),
        # members by frequency, with the config's candidates and the frequency's overrides
        (_config([GRU_DIRECT], {"stocks": STOCKS}), [("AAPL", "B"), ("sea", "D"), ("IBM", "B")],
         [("AAPL", "gru", "direct", 5), ("sea", "gru", "direct", 7), ("IBM", "gru", "direct", 5)],
         [("AAPL", "gru", "direct", 5), ("sea", "gru", "direct", 7), ("IBM", "gru", "direct", 5)],
         [("stocks", ("AAPL", "IBM"), 5)], []),
        # no series: nothing to do
        (_config([GRU_DIRECT]), [], [], [], [], []),
    ],
)  # fmt: skip
def test_plan_retrain(
    config: RetrainConfig,
    series: list[tuple[str, str]],
    candidates: list[tuple[str, str, str, int]],
    baselines: list[tuple[str, str, str, int]],
    groups: list[tuple[str, tuple[str, ...], int]],
    skipped: list[tuple[str, int]],
) -> None:
    plan = plan_retrain(config, series)
    assert plan.series == tuple(key for key, _ in series)
    assert _names(plan.candidates) == candidates
    assert _names(plan.baselines) == baselines
    assert [(g.group, g.members, g.spec.horizon) for g in plan.groups] == groups
    assert list(plan.skipped_groups) == skipped
    assert (plan.metric, plan.origins) == ("mase", 30)


def test_quick_applies_to_every_candidate_and_group() -> None:
    config = _config([GRU_DIRECT], {"pair": PAIR})
    plan = plan_retrain(config, [("sea", "D"), ("chi", "D")], quick=True)
    assert {j.spec.epochs for j in (*plan.candidates, *plan.baselines)} == {1}
    assert {g.spec.epochs for g in plan.groups} == {1}
    assert plan.groups[0].embedding_dim == PAIR.embedding_dim


def _won(series_key: str, version_id: int, score: float, *, promoted: bool = True,
         **extra: Any) -> CandidateResult:  # fmt: skip
    reason = "mase beats" if promoted else "mase does not beat"
    decision = Decision(version_id, "direct", promoted, reason, "mase",
                        candidate_score=score, extra=extra)  # fmt: skip
    return CandidateResult.trained(series_key, "gru", decision, executor=Placement(1, None, 2))


CRASHED = CandidateResult("sea", "lstm", "direct", 9, False, "RuntimeError: boom", failed=True)
CANCELLED = CandidateResult("sea", "rnn", "direct", None, False, "run 1 is cancelled",
                            cancelled=True, group="pair")  # fmt: skip


@pytest.mark.parametrize(
    ("results", "promoted", "expected"),
    [
        # the rule's winner was promoted: unchanged
        ([_won("sea", 1, 0.8)], {1}, [(1, True, "mase beats")]),
        # another candidate of the run won: it says so
        ([_won("sea", 1, 0.8), _won("sea", 2, 0.9)], {1},
         [(1, True, "mase beats"), (2, False, "mase beats" + OUTSCORED)]),
        # not promoted by the rule: unchanged
        ([_won("sea", 3, 1.2, promoted=False)], set(),
         [(3, False, "mase does not beat")]),
        # failed and cancelled candidates are left as they are
        ([CRASHED, CANCELLED], set(),
         [(9, False, "RuntimeError: boom"), (None, False, "run 1 is cancelled")]),
    ],
)  # fmt: skip
def test_settle(
    results: list[CandidateResult], promoted: set[int], expected: list[tuple[Any, ...]]
) -> None:
    assert [(r.version_id, r.promoted, r.reason) for r in settle(results, promoted)] == expected


def test_each_series_commits_the_decisions_of_its_trained_candidates() -> None:
    results = [_won("sea", 1, 0.8), _won("chi", 2, 0.9), CRASHED, CANCELLED]
    assert [d.version_id for d in decisions_of(results, "sea")] == [1]
    assert [d.version_id for d in decisions_of(results, "chi")] == [2]
    assert decisions_of(results, "absent") == []


def test_the_run_result_and_error() -> None:
    cut = _won("chi", 2, 0.9, promoted=False, cut_short=True, notices=["cut short"])
    results = [_won("sea", 1, 0.8), cut, CRASHED, CANCELLED]
    result = RetrainResult(
        7, tuple(results), forecasts={"sea": {"direct": 1}}, served=({"version_id": 1},)
    )
    assert result.versions == [1, 2, 9]
    assert (result.promoted, result.failed, result.cut_short) == ([1], [9], [2])
    out = result.record()  # as stored on the run's row
    assert list(out) == [
        "versions", "promoted", "failed", "cut_short", "candidates", "forecasts", "served"
    ]  # fmt: skip
    assert (out["versions"], out["promoted"], out["failed"], out["cut_short"]) == (
        [1, 2, 9], [1], [9], [2]
    )  # fmt: skip
    assert out["forecasts"] == {"sea": {"direct": 1}} and out["served"] == [{"version_id": 1}]
    assert [c["series"] for c in out["candidates"]] == ["sea", "chi", "sea", "sea"]
    assert result.to_json() == {"run_id": 7, **out}
    assert result.error == "sea lstm/direct: RuntimeError: boom"
    assert replace(result, candidates=tuple(results[:2])).error is None
    assert cut.notices == ["cut short"] and CRASHED.notices == [] and not CRASHED.cut_short


def test_a_candidates_row_in_the_run_result() -> None:
    row = _won("sea", 1, 0.8, stopped="early").as_dict()
    assert row["series"] == "sea" and row["architecture"] == "gru" and row["strategy"] == "direct"
    assert (row["version_id"], row["promoted"], row["failed"]) == (1, True, False)
    assert row["candidate_score"] == 0.8 and row["stopped"] == "early"
    assert (
        "group" not in row
        and "cancelled" not in row
        and row["executor"] == {"pid": 1, "dask_worker": None, "torch_threads": 2}
    )
    assert CRASHED.as_dict() == {
        "series": "sea", "architecture": "lstm", "strategy": "direct", "executor": {},
        "failed": True, "version_id": 9, "promoted": False, "reason": "RuntimeError: boom",
    }  # fmt: skip
    assert CANCELLED.as_dict()["cancelled"] is True and CANCELLED.as_dict()["group"] == "pair"
    assert CANCELLED.label == "sea rnn/direct (global pair)"
    settled = settle([_won("sea", 2, 0.9)], set())[0].as_dict()
    assert settled["promoted"] is False and settled["reason"].endswith(OUTSCORED)
