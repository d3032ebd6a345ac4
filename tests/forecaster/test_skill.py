"""Figures re-pooled for the requested steps equal those computed on those steps alone, and the
skill sentence follows them."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.backtest import Backtest, EvalRow, report_rows
from forecaster.skill import has_skill, restrict_steps, skill_sentence


def _cells(rows: list[EvalRow]) -> list[dict[str, object]]:
    cells: dict[tuple[str, int, str], dict[str, object]] = {}
    for r in rows:
        cell = cells.setdefault(
            (r.variable, r.step, r.metric),
            {"variable": r.variable, "step": r.step, "metric": r.metric},
        )
        cell[r.model] = None if not np.isfinite(r.value) else r.value
    return [cells[k] for k in sorted(cells)]


def _backtest(h: int, rng: np.random.Generator) -> tuple[Backtest, np.ndarray]:
    n, v = 40, 2
    actual = rng.normal(size=(n, h, v)).cumsum(axis=1) + 50
    # a model whose error grows with the step, unlike the naive one: the verdict depends on H
    drift = np.linspace(0.1, 8.0, h)[None, :, None]
    model = actual + rng.normal(size=(n, h, v)) * drift
    naive = np.repeat(actual[:, :1] - rng.normal(size=(n, 1, v)), h, axis=1)
    snaive = naive + rng.normal(size=(n, h, v))
    bt = Backtest(np.arange(n), actual, model, naive, snaive)
    return bt, rng.normal(size=(200, v)).cumsum(axis=0) + 50


def _cut(bt: Backtest, h: int) -> Backtest:
    return Backtest(
        bt.origins, bt.actual[:, :h], bt.model[:, :h], bt.naive[:, :h], bt.seasonal_naive[:, :h]
    )


def test_pooled_figures_of_the_first_steps_equal_those_computed_on_them_alone() -> None:
    rng = np.random.default_rng(0)
    bt, insample = _backtest(10, rng)
    width = np.abs(rng.normal(size=(10, 2))) * 2
    args = {"insample": insample, "season": 7}
    full = _cells(report_rows("backtest", ["a", "b"], bt, half_width=width, **args))
    direct = _cells(report_rows("backtest", ["a", "b"], _cut(bt, 4), half_width=width[:4], **args))
    cut, steps = restrict_steps(full, 4)
    assert steps == 4 and {c["step"] for c in cut} == {0, 1, 2, 3, 4}
    assert len(cut) == len(direct)
    for got, want in zip(cut, direct, strict=True):
        assert (got["variable"], got["step"], got["metric"]) == (
            want["variable"],
            want["step"],
            want["metric"],
        )
        for who in ("model", "naive", "seasonal_naive"):
            if want.get(who) is None:
                assert got.get(who) is None
            else:
                assert got[who] == pytest.approx(want[who], rel=1e-9), (got, who)
    # nothing to cut: the stored figures come back as they are
    assert restrict_steps(full, 10) == (full, 10)
    assert restrict_steps(full, 30) == (full, 10)


def test_the_sentence_judges_the_requested_steps_only() -> None:
    rng = np.random.default_rng(1)
    bt, insample = _backtest(10, rng)
    full = _cells(report_rows("backtest", ["a"], _cut_var(bt), insample=insample[:, :1], season=7))
    pooled = {c["metric"]: c for c in full if c["step"] == 0}
    short, _ = restrict_steps(full, 2)
    short_pooled = {c["metric"]: c for c in short if c["step"] == 0}
    # the model drifts: it beats naive over the first steps but not over all ten
    assert short_pooled["mase"]["model"] < short_pooled["mase"]["naive"]
    assert pooled["mase"]["model"] >= pooled["mase"]["naive"]
    assert has_skill(short, "gru") is True and has_skill(full, "gru") is False
    text = skill_sentence(short, architecture="gru", split="backtest", steps=2)
    assert text is not None and text.startswith(
        f"a: MASE {short_pooled['mase']['model']:.3f} beats the naive forecast's "
        f"{short_pooled['mase']['naive']:.3f}"
    )
    assert text.endswith("on the backtest (steps 1-2)")
    long = skill_sentence(full, architecture="gru", split="backtest", steps=10)
    assert long is not None and "does not beat" in long and "(steps 1-10)" in long
    served = skill_sentence(short, architecture="naive", split="backtest", steps=2)
    assert served is not None and served.startswith(
        "No skill: no trained model beat the naive baselines on the backtest (steps 1-2), so the "
        "naive (last value) forecast is served"
    )
    assert has_skill(short, "naive") is False


def _cut_var(bt: Backtest) -> Backtest:
    return Backtest(
        bt.origins, *(a[:, :, :1] for a in (bt.actual, bt.model, bt.naive, bt.seasonal_naive))
    )
