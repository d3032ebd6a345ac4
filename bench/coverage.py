"""Coverage of the prediction intervals on every real series in data/: old vs adaptive.

Rolling origin over each series, split 60/20/20 by rows (train / validation / test):
- the point forecaster is a cheap fixed one, the same for both interval methods: a direct ridge
  regression per step on the last 30 differences (y[o-L:o] - y[o-1] -> y[o+h-1] - y[o-1]),
  fitted on the training rows once. The interval method is what is measured, not the model.
- old: split conformal half-widths per step from the validation residuals, fixed afterwards
  (what forecaster.forecasting.calibration.Calibration served before).
- naive-residual: the same, from the validation residuals of the naive (last value) forecast.
- adaptive: forecaster.intervals (scores normalized by mean |dy| over the 30 rows before the
  origin, or not at all, chosen per series on the validation origins by
  forecaster.intervals.choose_scale; quantiles
  over the 250 most recent known origins, ACI with gamma=0.005), fed online from the first
  validation origin on; never sees an actual before it is observed.
Coverage and widths are measured on the test origins; "recent" is the last 60 test origins.

    .venv/bin/python bench/coverage.py [--choose] [--series AAPL,ETTh1:OT]

--choose also prints the scale choice on the validation split (the candidates the
forecaster.intervals docstring compares).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecaster.intervals import (  # noqa: E402
    choose_scale,
    covered,
    floor_scale,
    naive_scale,
    nanmean,
    online_multipliers,
    scale_floor,
    split_multipliers,
)

LEVELS = (0.5, 0.8, 0.9, 0.95)
LAGS = 30
RECENT = 60
HORIZON = {"stocks": 10, "weather": 7, "ett": 24}


@dataclass(frozen=True)
class Series:
    name: str
    family: str
    values: np.ndarray  # (T,) float, NaN gaps


def load_all() -> list[Series]:
    out: list[Series] = []
    for path in sorted((ROOT / "data" / "stocks").glob("*.csv")):
        out.append(Series(path.stem, "stocks", pd.read_csv(path)["close"].to_numpy(float)))
    for path in sorted((ROOT / "data" / "weather").glob("*.csv")):
        name = path.stem.removesuffix("_daily")
        out.append(Series(name, "weather", pd.read_csv(path)["tmax"].to_numpy(float)))
    for path in sorted((ROOT / "data" / "ett").glob("*.csv")):
        frame = pd.read_csv(path)
        for col in frame.columns[1:]:
            out.append(Series(f"{path.stem}:{col}", "ett", frame[col].to_numpy(float)))
    return out


def known_levels(y: np.ndarray) -> np.ndarray:
    """Gaps carried forward (what a forecaster would see)."""
    return pd.Series(y).ffill().to_numpy()


def ridge_forecaster(
    known: np.ndarray, train_end: int, horizon: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Direct ridge per step on the last LAGS differences, fitted on rows before train_end."""

    def features(origins: np.ndarray) -> np.ndarray:
        rows = origins[:, None] - LAGS + np.arange(LAGS)[None]  # (N, LAGS)
        return known[rows] - known[origins - 1][:, None]

    fit_o = np.arange(LAGS + 1, train_end - horizon + 1)
    x = features(fit_o)
    targets = known[fit_o[:, None] + np.arange(horizon)[None]] - known[fit_o - 1][:, None]
    ok = np.isfinite(x).all(1) & np.isfinite(targets).all(1)
    x, targets = x[ok], targets[ok]
    x1 = np.hstack([x, np.ones((len(x), 1))])
    lam = 1e-3 * len(x) * float(np.mean(x**2) + 1e-12)
    coef = np.linalg.solve(x1.T @ x1 + lam * np.eye(LAGS + 1), x1.T @ targets)  # (LAGS+1, H)

    def predict(origins: np.ndarray) -> np.ndarray:
        f = features(origins)
        f1 = np.hstack([np.nan_to_num(f), np.ones((len(f), 1))])
        return np.asarray(known[origins - 1][:, None] + f1 @ coef)  # (N, H)

    return predict


@dataclass
class Result:
    scale: str  # chosen on validation: "dy" or "none"
    name: str
    family: str
    cov_old: np.ndarray  # (H, K)
    cov_new: np.ndarray  # (H, K)
    recent_old: float  # at 0.9, last RECENT test origins, all steps
    recent_new: float
    width_old: float  # mean half-width at 0.9 on the test origins
    width_new: float
    width_naive: float
    n_test: int


def evaluate(s: Series, *, scale_window: int = 30, gamma: float = 0.005) -> Result:
    horizon = HORIZON[s.family]
    y = s.values
    known = known_levels(y)
    n = len(y)
    train_end, valid_end = int(n * 0.6), int(n * 0.8)
    predict = ridge_forecaster(known, train_end, horizon)
    origins = np.arange(max(train_end, LAGS + 1), n - horizon + 1)
    rows = origins[:, None] + np.arange(horizon)[None]
    actual = y[rows][..., None]  # (N, H, 1)
    point = predict(origins)[..., None]
    naive = np.repeat(known[origins - 1][:, None, None], horizon, axis=1)
    res = np.abs(actual - point)
    valid = origins + horizon <= valid_end  # targets inside the validation split
    test = origins >= valid_end
    old = split_multipliers(res[valid], LEVELS)  # (H, 1, K)
    old_naive = split_multipliers(np.abs(actual - naive)[valid], LEVELS)
    floor = scale_floor(known[:train_end, None])
    cands = {
        "dy": floor_scale(naive_scale(known[:, None], origins, window=scale_window), floor),
        "none": np.ones((len(origins), 1)),
    }  # (N, 1) each
    pick = choose_scale(
        res[valid], origins[valid], {k: v[valid] for k, v in cands.items()}, level=0.9
    )[0]
    scale = cands[pick]
    scores = res / scale[:, None, :]
    mult = online_multipliers(scores, origins, LEVELS, gamma=gamma)  # (N, H, 1, K)
    half_new = mult * scale[:, None, :, None]
    in_old = covered(res[test], old[None])[:, :, 0]  # (Nt, H, K)
    in_new = covered(res[test], half_new[test])[:, :, 0]
    k9 = LEVELS.index(0.9)
    return Result(
        pick,
        s.name,
        s.family,
        nanmean(in_old, 0),
        nanmean(in_new, 0),
        float(nanmean(in_old[-RECENT:, :, k9], (0, 1))),
        float(nanmean(in_new[-RECENT:, :, k9], (0, 1))),
        float(np.nanmean(old[:, 0, k9])),
        float(np.nanmean(half_new[test][:, :, 0, k9])),
        float(np.nanmean(old_naive[:, 0, k9])),
        int(test.sum()),
    )


def choose(series: list[Series]) -> None:
    """Scale candidates on the validation split only: coverage and width at 0.9."""
    print("\nscale choice on the validation split (level 0.9; width relative to |dy| over 30 rows)")
    print(f"{'family':8} {'scale':>12} {'coverage':>9} {'width':>7}")
    for family in HORIZON:
        fam = [s for s in series if s.family == family]
        table: dict[str, tuple[list[float], list[float]]] = {}
        for s in fam:
            horizon = HORIZON[family]
            known = known_levels(s.values)
            n = len(known)
            train_end, valid_end = int(n * 0.6), int(n * 0.8)
            predict = ridge_forecaster(known, train_end, horizon)
            origins = np.arange(max(train_end, LAGS + 1), valid_end - horizon + 1)
            rows = origins[:, None] + np.arange(horizon)[None]
            res = np.abs(s.values[rows] - predict(origins))[..., None]
            floor = scale_floor(known[:train_end, None])
            cands = {
                f"|dy| {w}": naive_scale(known[:, None], origins, window=w) for w in (10, 30, 60)
            }
            cands["std 30"] = np.array(
                [[np.nanstd(known[o - 30 : o])] for o in origins], dtype=np.float64
            )
            cands["none"] = np.ones((len(origins), 1))
            widths: dict[str, float] = {}
            for name, raw in cands.items():
                sc = floor_scale(raw, floor) if name != "none" else raw
                mult = online_multipliers(res / sc[:, None, :], origins, [0.9])[..., 0, 0]
                half = mult * sc[:, None, 0]
                inside = covered(res, half[:, :, None, None])[..., 0, 0]
                cov = float(nanmean(inside, (0, 1)))
                widths[name] = float(np.nanmean(half))
                table.setdefault(name, ([], []))[0].append(cov)
            base = widths["|dy| 30"]
            for name in cands:
                table[name][1].append(widths[name] / base)
        for name, (covs, ws) in table.items():
            print(f"{family:8} {name:>12} {np.mean(covs):9.3f} {np.mean(ws):7.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", help="comma-separated names (default: all)")
    ap.add_argument("--choose", action="store_true", help="print the scale choice on validation")
    args = ap.parse_args(argv)
    series = load_all()
    if args.series:
        wanted = set(args.series.split(","))
        series = [s for s in series if s.name in wanted]
    t0 = time.perf_counter()
    results = [evaluate(s) for s in series]
    k9 = LEVELS.index(0.9)
    print(
        "per series, level 0.9 (coverage pooled over steps on the test origins; recent = last 60)"
    )
    head = (
        f"{'series':18} {'H':>3} {'test':>5} {'old':>6} {'new':>6} {'old60':>6} {'new60':>6} "
        f"{'w/old':>6} {'w/naive':>7} scale"
    )
    print(head)
    for r in results:
        print(
            f"{r.name:18} {r.cov_new.shape[0]:3d} {r.n_test:5d} {r.cov_old[:, k9].mean():6.3f} "
            f"{r.cov_new[:, k9].mean():6.3f} {r.recent_old:6.3f} {r.recent_new:6.3f} "
            f"{r.width_new / r.width_old:6.3f} {r.width_new / r.width_naive:7.3f} {r.scale}"
        )
    print("\nper family: mean coverage over series and steps, old -> new, at each level")
    print(f"{'family':8} " + " ".join(f"{lv:>13}" for lv in LEVELS) + f" {'min new60':>9}")
    for family in HORIZON:
        fam = [r for r in results if r.family == family]
        if not fam:
            continue
        cells = []
        for k in range(len(LEVELS)):
            o = np.mean([r.cov_old[:, k].mean() for r in fam])
            a = np.mean([r.cov_new[:, k].mean() for r in fam])
            cells.append(f"{o:.3f}->{a:.3f}")
        worst = min(r.recent_new for r in fam)
        print(f"{family:8} " + " ".join(f"{c:>13}" for c in cells) + f" {worst:9.3f}")
    print("\nper family and step, level 0.9, old -> new")
    for family in HORIZON:
        fam = [r for r in results if r.family == family]
        if not fam:
            continue
        steps = [
            f"{np.mean([r.cov_old[h, k9] for r in fam]):.2f}->"
            f"{np.mean([r.cov_new[h, k9] for r in fam]):.2f}"
            for h in range(HORIZON[family])
        ]
        print(f"{family:8} " + " ".join(f"{h + 1}:{c}" for h, c in enumerate(steps)))
    print("\nwidth at 0.9 (mean half-width new / old; where old covered >= 0.9, and all)")
    for family in HORIZON:
        fam = [r for r in results if r.family == family]
        if not fam:
            continue
        ok = [r.width_new / r.width_old for r in fam if r.cov_old[:, k9].mean() >= 0.9]
        every = [r.width_new / r.width_old for r in fam]
        naive = [r.width_new / r.width_naive for r in fam]
        where = f"{np.mean(ok):.3f} over {len(ok)} series" if ok else "none covered"
        print(
            f"{family:8} where old covered: {where}; all: {np.mean(every):.3f}; "
            f"vs naive-residual: {np.mean(naive):.3f}"
        )
    if args.choose:
        choose(series)
    print(f"\n{len(results)} series in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
