"""Which retrain candidates win on validation on the bundled series (forecaster/sample_data):
every candidate of forecaster/retrain.yaml, plus the ones given here, trained with the config's
defaults for each sample and scored by validation MASE (the test split is not looked at).

    .venv/bin/python bench/retrain_candidates.py            # the config's own settings
    .venv/bin/python bench/retrain_candidates.py --quick    # its quick settings (the demo's)
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import torch

from forecaster.forecasting.train import train_model
from forecaster.retrain_config import load_retrain_config
from forecaster.sources.csv import load_sample
from forecaster.sources.samples import SAMPLES
from forecaster.spec import ModelSpec

EXTRA: list[dict[str, Any]] = [
    # the segment-wise seq2seq: segments of a business week (5) or two (10); 60 rows of lookback
    {"architecture": "seq2seq_attention", "strategy": "direct", "segment_len": 5},
    {"architecture": "seq2seq_attention", "strategy": "direct", "segment_len": 10},
    {
        "architecture": "seq2seq_attention",
        "strategy": "direct",
        "segment_len": 5,
        "attention": "luong",
    },
]


def label(cand: dict[str, Any]) -> str:
    rest = {k: v for k, v in cand.items() if k not in ("architecture", "strategy")}
    extra = " ".join(f"{k}={v}" for k, v in rest.items())
    return f"{cand['architecture']} {cand['strategy']}" + (f" {extra}" if extra else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--series", default="", help="comma-separated sample keys (default: all)")
    ap.add_argument("--direct-only", action="store_true", help="skip the recursive candidates")
    args = ap.parse_args()
    config = load_retrain_config()
    cands = list(config.candidates) + [c for c in EXTRA if c not in config.candidates]
    print(f"# load at start {os.getloadavg()}; quick={args.quick}")
    print("| series | candidate | val MASE | naive val MASE | epochs | train s |")
    print("|---|---|---|---|---|---|")
    if args.direct_only:
        cands = [c for c in cands if c["strategy"] == "direct"]
    wanted = {k.strip() for k in args.series.split(",") if k.strip()}
    unknown = wanted - {s.key for s in SAMPLES}
    if unknown:
        raise SystemExit(f"unknown --series {sorted(unknown)}; valid: {[s.key for s in SAMPLES]}")
    for sample in SAMPLES:
        if wanted and sample.key not in wanted:
            continue
        frame = load_sample(sample)
        frame = frame.loc[:, frame.notna().any()]  # columns the source leaves empty
        for cand in cands:
            merged = {
                **config.defaults,
                **config.by_frequency.get(sample.frequency, {}),
                **config.by_series.get(sample.key, {}),
                **cand,
                **(config.quick if args.quick else {}),
                "targets": list(sample.targets),
            }
            spec = ModelSpec.from_dict(merged)
            torch.manual_seed(spec.seed)
            t0 = time.perf_counter()
            out = train_model(frame, spec, freq=sample.frequency, threads=args.threads)
            val = out.report.score("mase", split="valid")
            naive = out.report.score("mase", split="valid", model="naive")
            print(
                f"| {sample.key} | {label(cand)} | {val:.4f} | {naive:.4f} | "
                f"{out.fit.epochs_run} | {time.perf_counter() - t0:.1f} |",
                flush=True,
            )
    print(f"# load at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
