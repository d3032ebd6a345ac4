"""`forecaster accuracy`: live accuracy of a series' served forecasts beside the backtest's."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, time
from typing import Any

from forecaster.cli.context import open_sessions
from forecaster.cli.render import fmt, json_default, table
from forecaster.config import Settings


def cmd_accuracy(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.app.accuracy import accuracy

    with open_sessions(settings) as sessions, sessions.begin() as session:
        report = accuracy(
            session=session,
            series_key=args.key,
            strategy=args.strategy,
            since=None if args.since is None else datetime.combine(args.since, time()),
            steps=args.steps,
        )
    if args.json:
        print(json.dumps(report, default=json_default, indent=2))
        return 0
    print(accuracy_text(report))
    return 0


def accuracy_text(report: dict[str, Any]) -> str:
    """Per version (the champion first): live figures beside the backtest's, per variable and step."""
    lines = [f"{report['series']} ({report['strategy']}): live accuracy of served forecasts"]
    if not report["versions"]:
        lines.append("no champion has served a forecast of this strategy yet")
    for v in report["versions"]:
        served = (
            f"{v['origins']} scored origins, {v['first_origin']:%Y-%m-%d} .. "
            f"{v['last_origin']:%Y-%m-%d}"
            if v["origins"]
            else "nothing scored yet"
        )
        lines.append(f"version {v['version_id']} ({v['architecture']}, {v['status']}): {served}")
        rows = [
            {
                "variable": f["variable"],
                "step": "all" if f["step"] == 0 else f["step"],
                "n": f["live"]["n"],
                "live MAE": fmt(f["live"]["mae"]),
                "backtest MAE": fmt((f["backtest"] or {}).get("mae")),
                "live naive MAE": fmt(f["live"]["naive_mae"]),
                "live MASE": fmt(f["live"]["mase"]),
                "backtest MASE": fmt((f["backtest"] or {}).get("mase")),
                "live coverage": fmt(f["live"]["coverage"]),
            }
            for f in v["figures"]
        ]
        lines.append(table(rows))
    lines.append("MASE here: MAE over the naive forecast's MAE on the same points (below 1: skill)")
    return "\n".join(lines)
