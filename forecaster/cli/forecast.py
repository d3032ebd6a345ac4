"""`forecaster forecast`: a series' forecast, the stored one when it fits (no torch), else run."""

from __future__ import annotations

import argparse
import json
from typing import Any

from forecaster.cli.context import open_sessions
from forecaster.cli.render import METRIC_COLUMNS, fmt, json_default, metrics_rows, print_table
from forecaster.config import Settings

POINT_COLUMNS = ["step", "ts", "variable", "value", "lower", "upper", "coverage", "width"]


def cmd_forecast(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.app.forecasts import stored_forecast

    request = {
        "series_key": args.key,
        "horizon": args.horizon,
        "strategy": args.strategy,
        "model": args.model,
        "level": args.level,
    }
    with open_sessions(settings) as sessions, sessions.begin() as session:
        # the forecast flow's stored forecast needs no model (no torch); any other runs it
        fc = stored_forecast(session=session, **request, max_horizon=settings.forecast_max_horizon)
        if fc is None:
            from forecaster.app.forecasts import forecast_series

            fc = forecast_series(
                session=session, **request, max_horizon=settings.forecast_max_horizon
            )
    if args.json:
        print(json.dumps(forecast_dict(fc), default=json_default, indent=2))
    else:
        print_forecast(fc)
    return 0


def forecast_dict(fc: Any) -> dict[str, Any]:
    return {
        "series": fc.series_key,
        "model_version": fc.version.id,
        "architecture": fc.version.architecture,
        "strategy": fc.strategy,
        "issued_at": fc.issued_at,
        "horizon": fc.horizon,
        "level": fc.level,
        "max_horizon": fc.max_horizon,
        "coverage_origins": fc.coverage_origins,
        "points": fc.points.to_dict("records"),
        "metrics": fc.metrics,
        "metrics_split": fc.metrics_split,
        "metrics_steps": fc.metrics_steps,
        "skill": fc.skill,
        "has_skill": fc.has_skill,
        "baseline_served": fc.baseline_served,
    }


def print_forecast(fc: Any) -> None:
    """Who forecast, from when, at which level; the points; the version's error figures."""
    print(
        f"{fc.series_key}: {fc.strategy} forecast by model version {fc.version.id} "
        f"({fc.version.architecture}), issued from data ending {fc.issued_at:%Y-%m-%d}, "
        f"{fc.level:.0%} intervals"
    )
    if "coverage" in fc.points:
        print(
            f"coverage: measured at {fc.level:.0%} over the last {fc.coverage_origins} origins, "
            f"per step; maximum horizon {fc.max_horizon}"
        )
    if fc.skill:
        print(fc.skill)
    rows = [
        {
            "step": r.step,
            "ts": f"{r.ts:%Y-%m-%d %H:%M} UTC".removesuffix(" 00:00 UTC"),  # a day: its date
            "variable": r.variable,
            "value": fmt(r.value),
            "lower": fmt(r.lower),
            "upper": fmt(r.upper),
            "coverage": fmt(getattr(r, "coverage", None)),
            "width": fmt(getattr(r, "width", None)),
        }
        for r in fc.points.itertuples()
    ]
    print_table(rows, POINT_COLUMNS)
    if fc.metrics:
        span = "step 1" if fc.metrics_steps == 1 else f"steps 1-{fc.metrics_steps}"
        print(
            f"\n{fc.metrics_split} errors of this version over {span}, original scale "
            "(naive = last value; snaive = seasonal naive):"
        )
        print_table(metrics_rows(fc.metrics), METRIC_COLUMNS)
