"""Adaptive prediction intervals for any point forecaster: split conformal on scale-normalized
residuals, recalibrated on the most recent origins, with adaptive conformal inference on top.

The interval at origin t for step h and target v is

    y_hat[t, h, v] +- q[t, h, v] * scale[t, v]

- scale[t, v] is known when the forecast is made: the mean |y[s] - y[s-1]| over the
  `SCALE_WINDOW` rows before the origin (the naive forecast's recent one-step error), or 1
  ("none"). It moves with volatility (stock regimes) and with the season (summer vs winter
  spread in weather), so a calibration made in a calm period widens as soon as the lookback
  turns wild. Why this scale: `bench/coverage.py --choose` compares, on the validation splits of
  every series in data/, |dy| over 10/30/60 rows, the lookback's standard deviation and none.
  With the rolling window and ACI every candidate lands near the level (0.89-0.93 at 0.9), so
  the choice is about width: the std is the widest (1.42x |dy| 30 on stocks: a trending
  lookback has a large spread but small errors); 10 rows is noisy (1.03-1.42x); 60 rows is
  2-15 % narrower than 30, and 30 is kept because its scale has fully caught up with a
  volatility jump after 30 rows rather than 60 (not tuned further). No scale at all is the narrowest on stocks and ETT
  (0.92x, 0.74x) and the widest on weather (1.06x), so a version chooses between "dy" and "none"
  per target on its own validation split (`choose_scale`).
- q[t, h, v] is the conformal quantile of the normalized scores |y - y_hat| / scale of the
  `window` most recent origins whose step-h actual was already observed at t (so no look-ahead),
  at level 1 - alpha[t, h, v].
- alpha follows adaptive conformal inference (Gibbs & Candes 2021) with delayed feedback: each
  time the step-h actual of an earlier origin arrives, alpha += gamma * ((1 - level) - miss),
  so a run of misses narrows alpha (wider intervals) until coverage is back at the level.

Everything here is numpy on (N, H, V) arrays: the model versions, the naive baselines and the
bench all call the same functions with their own residuals.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SCALE_WINDOW = 30  # rows of |dy| in the scale
CAL_WINDOW = 250  # most recent origins a quantile is taken over
GAMMA = 0.005  # ACI step size
MIN_SCORES = 20  # fewer known scores than this: no interval (NaN)
COVERAGE_ORIGINS = 100  # recent origins the served coverage is measured over


def naive_scale(
    known: np.ndarray, origins: np.ndarray, *, window: int = SCALE_WINDOW
) -> np.ndarray:
    """Mean |y[s] - y[s-1]| over the `window` rows before each origin, per variable.

    Args:
        known: (T, V) levels with gaps (NaN) allowed; origins: (N,) row of each first target.
    Returns:
        (N, V); NaN where the window holds no finite difference.
    """
    diffs = np.abs(np.diff(known, axis=0, prepend=np.nan))  # (T, V): diffs[s] = |y[s] - y[s-1]|
    finite = np.isfinite(diffs)
    csum = np.concatenate([np.zeros((1, known.shape[1])), np.cumsum(np.where(finite, diffs, 0), 0)])
    ccount = np.concatenate([np.zeros((1, known.shape[1])), np.cumsum(finite, 0)])
    hi = np.clip(origins, 0, len(known))
    lo = np.clip(origins - window, 0, len(known))
    total = csum[hi] - csum[lo]
    count = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def floor_scale(scale: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """The scale with a per-variable floor (a flat lookback would give a zero-width interval)."""
    return np.where(np.isfinite(scale), np.maximum(scale, floor[None]), floor[None])


def scale_floor(known: np.ndarray) -> np.ndarray:
    """(V,) a floor for the scale: 10 % of the mean |dy| of these rows (1e-12 at least).

    The mean, not the median: quantized series (ETTh2 LULL) have a median |dy| of 0, and a
    score divided by a near-zero scale would blow the next interval up."""
    diffs = np.abs(np.diff(known, axis=0))
    mean = nanmean(diffs, 0) if len(diffs) else np.full(known.shape[1], np.nan)
    return np.where(np.isfinite(mean), np.maximum(0.1 * mean, 1e-12), 1e-12)


def _kth(sorted_win: np.ndarray, n: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Conformal quantiles of ascending windows (NaN last) at per-cell levels.

    k = ceil((n + 1) * level), capped at n (the largest score) so an interval stays finite when
    ACI asks for more than the window can give; level <= 0 gives a zero width.

    Args:
        sorted_win: (W, V); n: (V,) finite scores per column; levels: (V, K).
    Returns:
        (V, K), NaN where n < MIN_SCORES.
    """
    k = np.ceil((n[:, None] + 1) * levels).astype(np.int64)
    k = np.minimum(k, n[:, None])
    cols = np.broadcast_to(np.arange(sorted_win.shape[1])[:, None], k.shape)
    q = sorted_win[np.maximum(k - 1, 0), cols] if sorted_win.shape[0] else np.zeros(k.shape)
    q = np.where(k <= 0, 0.0, q)
    return np.where(n[:, None] >= MIN_SCORES, q, np.nan)


def online_multipliers(
    scores: np.ndarray,
    origins: np.ndarray,
    levels: Sequence[float],
    *,
    window: int = CAL_WINDOW,
    gamma: float = GAMMA,
) -> np.ndarray:
    """The normalized half-width each origin would have been served, from earlier origins only.

    Args:
        scores: (N, H, V) |y - y_hat| / scale, NaN where the actual is unobserved (or not yet).
        origins: (N,) ascending rows of each first target; step h of origin o is observed at rows
            >= o + h, so origin t sees the step-h score of origins o <= t - h.
        levels: interval levels in (0, 1).
    Returns:
        (N, H, V, K) multipliers q, NaN where fewer than MIN_SCORES scores were known.
    """
    n_orig, horizon, n_var = scores.shape
    target = 1.0 - np.asarray(levels, dtype=np.float64)  # (K,) miss rates
    out = np.full((n_orig, horizon, n_var, len(target)), np.nan)
    for h in range(horizon):
        known_end = np.searchsorted(origins, origins - (h + 1), side="right")  # (N,)
        alpha = np.tile(target, (n_var, 1))  # (V, K)
        fed = 0
        col = scores[:, h]  # (N, V)
        for i in range(n_orig):
            end = int(known_end[i])
            if gamma > 0 and end > fed:  # the step-h actuals of origins fed..end-1 arrived
                used = out[fed:end, h]  # (m, V, K)
                s = col[fed:end, :, None]
                ok = np.isfinite(used) & np.isfinite(s)
                miss = (s > used) & ok
                alpha += gamma * (target[None] * ok.sum(0) - miss.sum(0))
                fed = end
            win = np.sort(col[max(0, end - window) : end], axis=0)  # NaN sort last
            n = np.isfinite(win).sum(axis=0)
            out[i, h] = _kth(win, n, np.clip(1.0 - alpha, 0.0, 1.0))
    return out


def split_multipliers(scores: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Plain split conformal: one quantile per step and variable from all the scores.

    Args:
        scores: (N, H, V), NaN ignored.
    Returns:
        (H, V, K); with scale 1 these are the old method's half-widths.
    """
    n_var = scores.shape[2]
    out = np.full((scores.shape[1], n_var, len(levels)), np.nan)
    lv = np.tile(np.asarray(levels, dtype=np.float64), (n_var, 1))
    for h in range(scores.shape[1]):
        win = np.sort(scores[:, h], axis=0)
        n = np.isfinite(win).sum(axis=0)
        k = np.ceil((n[:, None] + 1) * lv)
        q = _kth(win, n, lv)
        out[h] = np.where(k > n[:, None], np.nan, q)  # split conformal does not cap
    return out


def covered(scores: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """1.0 where a score is within its multiplier, 0.0 outside, NaN where either is NaN.

    Args:
        scores: (N, H, V); multipliers: (N, H, V, K) or broadcastable.
    Returns:
        (N, H, V, K).
    """
    s = scores[..., None]
    inside = (s <= multipliers).astype(np.float64)
    return np.where(np.isfinite(s) & np.isfinite(multipliers), inside, np.nan)


def nanmean(values: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """np.nanmean without the all-NaN warning (an all-NaN slice is expected: NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmean(values, axis=axis))


@dataclass(frozen=True)
class Intervals:
    """Intervals for one forecast, and how such intervals did on the most recent origins."""

    half_width: np.ndarray  # (H, V) on the original scale, NaN where uncalibrated
    coverage: np.ndarray  # (H, V) measured over the last `origins` origins with known actuals
    origins: int  # how many recent origins the coverage was measured over (the most of any step)


def adaptive_intervals(
    scores: np.ndarray,
    origins: np.ndarray,
    scale_now: np.ndarray,
    level: float,
    *,
    window: int = CAL_WINDOW,
    gamma: float = GAMMA,
    measure: int = COVERAGE_ORIGINS,
) -> Intervals:
    """Half-widths for a new forecast from the scores of recent origins, and their coverage.

    Args:
        scores: (N, H, V) normalized scores of recent origins, NaN where the actual is not known;
            the last origin (origins[-1]) is the forecast being issued (its scores all NaN).
        origins: (N,) ascending; scale_now: (V,) the forecast's scale.
    Returns:
        Intervals: half_width (H, V) = q at the last origin * scale_now; coverage (H, V) at
        `level` of the online intervals over the last `measure` origins whose actual is known.
    """
    mult = online_multipliers(scores, origins, [level], window=window, gamma=gamma)[..., 0]
    half = mult[-1] * scale_now[None]  # (H, V)
    # the window behind the new forecast must back the nominal level (k <= n), as split
    # conformal does: a level too high for the scores at hand gives no interval, not the max
    for h in range(scores.shape[1]):
        end = int(np.searchsorted(origins, origins[-1] - (h + 1), side="right"))
        n = np.isfinite(scores[max(0, end - window) : end, h]).sum(axis=0)  # (V,)
        half[h] = np.where(np.ceil((n + 1) * level) <= n, half[h], np.nan)
    inside = covered(scores, mult[..., None])[..., 0]  # (N, H, V)
    cov = np.full(half.shape, np.nan)
    used = 0
    for h in range(scores.shape[1]):
        seen = np.isfinite(inside[:, h]).all(axis=1)
        recent = inside[seen, h][-measure:]
        used = max(used, len(recent))
        if len(recent):
            cov[h] = recent.mean(axis=0)
    return Intervals(half_width=half, coverage=cov, origins=used)


def choose_scale(
    res: np.ndarray,
    origins: np.ndarray,
    candidates: dict[str, np.ndarray],
    *,
    level: float,
    tolerance: float = 0.02,
) -> list[str]:
    """Per variable, the scale whose online intervals did best on these (validation) origins.

    Among the candidates whose coverage is within `tolerance` of `level`, the narrowest; when
    none is, the one with the coverage nearest the level.

    Args:
        res: (N, H, V) |y - y_hat|; candidates: name -> (N, V) scales (ones for "none").
    Returns:
        the chosen name per variable.
    """
    stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, sc in candidates.items():
        mult = online_multipliers(res / sc[:, None, :], origins, [level])[..., 0]  # (N, H, V)
        half = mult * sc[:, None, :]
        inside = covered(res, half[..., None])[..., 0]
        stats[name] = (nanmean(inside, (0, 1)), nanmean(half, (0, 1)))  # (V,), (V,)
    chosen = []
    for v in range(res.shape[2]):
        rows = [(n, float(c[v]), float(w[v])) for n, (c, w) in stats.items()]
        rows = [r for r in rows if math.isfinite(r[1]) and math.isfinite(r[2])]
        if not rows:
            chosen.append(next(iter(candidates)))
            continue
        close = [r for r in rows if abs(r[1] - level) <= tolerance]
        best = (
            min(close, key=lambda r: r[2]) if close else min(rows, key=lambda r: abs(r[1] - level))
        )
        chosen.append(best[0])
    return chosen
