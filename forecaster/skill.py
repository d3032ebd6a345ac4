"""Figures for the steps actually asked for, and one plain sentence on whether the served model
has skill over the naive forecast (the same words in the API, the CLI and the dashboard)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from forecaster.architectures import is_baseline
from forecaster.values import finite_or_none

WHO = ("model", "naive", "seasonal_naive")
WORDS = {"naive": "naive (last value)", "seasonal_naive": "seasonal-naive"}


def _pool(metric: str, values: list[float]) -> float:
    """Steps pooled from per-step figures: every step has the same windows (an origin is used
    only when all its steps are observed), so the pooled figure is the mean over steps (RMSE:
    the root of the mean square; coverage: over the calibrated steps)."""
    if metric == "coverage":
        values = [v for v in values if math.isfinite(v)]
        return sum(values) / len(values) if values else math.nan
    if not values or not all(math.isfinite(v) for v in values):
        return math.nan
    if metric == "rmse":
        return math.sqrt(sum(v * v for v in values) / len(values))
    return sum(values) / len(values)


def restrict_steps(
    cells: Iterable[dict[str, Any]], horizon: int
) -> tuple[list[dict[str, Any]], int]:
    """Keep steps 1..horizon and re-pool step 0 over exactly those steps.

    Args:
        cells: {variable, step, metric, model, naive, seasonal_naive} rows, step 0 pooled.
    Returns:
        the rows (step 0 first per variable and metric) and the number of steps pooled.
    """
    rows = list(cells)
    stored = max((int(c["step"]) for c in rows), default=0)
    steps = min(horizon, stored)
    if steps >= stored:  # nothing cut: the stored pooled figures are these steps' figures
        return rows, stored
    kept = [c for c in rows if 1 <= int(c["step"]) <= steps]
    pooled: dict[tuple[str, str], dict[str, Any]] = {}
    for c in kept:
        key = (str(c["variable"]), str(c["metric"]))
        cell = pooled.setdefault(key, {"variable": key[0], "step": 0, "metric": key[1]})
        for who in WHO:
            value = c.get(who)
            cell.setdefault(f"_{who}", []).append(math.nan if value is None else float(value))
    out = []
    for cell in pooled.values():
        row = {k: v for k, v in cell.items() if not k.startswith("_")}
        for who in WHO:
            value = _pool(row["metric"], cell[f"_{who}"])
            row[who] = finite_or_none(value)
        out.append(row)
    return sorted(out + kept, key=lambda c: (c["variable"], c["step"], c["metric"])), steps


def _span(steps: int) -> str:
    return "step 1" if steps == 1 else f"steps 1-{steps}"


def has_skill(cells: Sequence[dict[str, Any]], architecture: str) -> bool | None:
    """False when a baseline is served or the model's pooled MASE does not beat the naive one
    for some target; None when undefined."""
    if is_baseline(architecture):
        return False
    verdicts = [
        c["model"] < c["naive"]
        for c in cells
        if c["step"] == 0
        and c["metric"] == "mase"
        and c.get("model") is not None
        and c.get("naive") is not None
    ]
    return all(verdicts) if verdicts else None


def no_skill_sentence(
    architecture: str, *, where: str = "on the backtest", figures: str = ""
) -> str:
    """The sentence for a series served by a baseline because no model beat it."""
    return (
        f"No skill: no trained model beat the naive baselines {where}, so the "
        f"{WORDS[architecture]} forecast is served" + (f" ({figures})." if figures else ".")
    )


def skill_sentence(
    cells: Sequence[dict[str, Any]], *, architecture: str, split: str, steps: int
) -> str | None:
    """One plain sentence on skill over the naive forecast, on `split` for steps 1..`steps`.

    Args:
        cells: restricted rows (see restrict_steps), step 0 pooled over `steps`.
        architecture: the served version's ("naive" / "seasonal_naive" for a baseline).
    """
    pooled = [c for c in cells if c["step"] == 0 and c["metric"] == "mase"]
    where = f"on the {split} ({_span(steps)})"
    if is_baseline(architecture):
        figures = ", ".join(
            f"{c['variable']} MASE {c['model']:.3f}" for c in pooled if c.get("model") is not None
        )
        return no_skill_sentence(architecture, where=where, figures=figures)
    parts = []
    for c in pooled:
        ours, naive = c.get("model"), c.get("naive")
        if ours is None or naive is None or naive <= 0:
            continue
        if ours < naive:
            parts.append(
                f"{c['variable']}: MASE {ours:.3f} beats the naive forecast's {naive:.3f} "
                f"({100 * (1 - ours / naive):.0f}% lower error) {where}"
            )
        else:
            parts.append(
                f"{c['variable']}: MASE {ours:.3f} does not beat the naive forecast's {naive:.3f} "
                f"(the last value carried forward) {where}: no skill over a random walk here"
            )
    return "; ".join(parts) or None
