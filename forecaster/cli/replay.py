"""`forecaster replay`: a bundled history replayed day by day (ingest, forecast, scoring, the
retrain policy), and what live accuracy it had."""

from __future__ import annotations

import argparse
import json
from typing import Any

from forecaster.cli.context import open_sessions, quiet_prefect
from forecaster.cli.render import fmt, json_default, table
from forecaster.config import Settings


def _policy(args: argparse.Namespace) -> Any:
    """The retrain config's policy, with --window and --min-origins applied."""
    from forecaster.policy import RetrainPolicy
    from forecaster.retrain_config import load_retrain_config

    policy = load_retrain_config(args.config).policy
    overrides = {k: v for k, v in (("window", args.window), ("min_origins", args.min_origins)) if v}
    if overrides:
        policy = RetrainPolicy.from_dict({**policy.__dict__, **overrides})
    return policy


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.app.replay import history

    history(args.key)  # an unknown key is one line before anything starts
    quiet_prefect(settings)
    from flows.common import outcome
    from flows.retrain import retrain
    from forecaster.app.replay import replay

    policy = _policy(args)

    def run_retrain(run_id: int) -> dict[str, Any]:
        state = retrain(
            series=[args.key],
            database_url=settings.database_url,
            run_id=run_id,
            config_path=str(args.config) if args.config else None,
            quick=args.quick,
            threads=settings.torch_threads or None,
            return_state=True,
        )
        out: dict[str, Any] = outcome(state).to_json()
        return out

    with open_sessions(settings) as sessions:
        report = replay(
            sessions=sessions,
            series_key=args.key,
            start=args.start,
            end=args.end,
            schedule=args.schedule,
            policy=policy,
            retrain=run_retrain,
        )
    if args.json:
        print(json.dumps(replay_dict(report), default=json_default, indent=2))
    else:
        print_replay(args, report)
    return 0


def print_replay(args: argparse.Namespace, report: Any) -> None:
    """The retrains it started and why, live accuracy per week, and the totals per strategy."""
    print(
        f"{report.series}: replayed {report.days} days from {args.start} ({report.schedule}); "
        f"{report.retrains} retrains"
    )
    for e in report.events:
        serving = f"serving {', '.join(e.served)}" if e.served else "nothing served"
        print(f"  {e.day} retrain run {e.run_id} [{e.trigger}] {serving}: {e.reason}")
    rows = [
        {
            "week": str(r.week),
            "strategy": r.strategy,
            "origins": r.origins,
            "live MAE": fmt(r.mae),
            "naive MAE": fmt(r.naive_mae),
            "MASE": fmt(r.mase),
            "coverage": fmt(r.coverage),
        }
        for r in report.weeks.itertuples()
    ]
    print(table(rows))
    for strategy, t in report.totals.items():
        print(
            f"{strategy}: live MAE {fmt(t['mae'])} vs naive {fmt(t['naive_mae'])} "
            f"(MASE {fmt(t['mase'])}), coverage {fmt(t['coverage'])} over {t['origins']} origins"
        )


def replay_dict(report: Any) -> dict[str, Any]:
    return {
        "series": report.series,
        "schedule": report.schedule,
        "days": report.days,
        "retrains": report.retrains,
        "events": [e.__dict__ for e in report.events],
        "weeks": report.weeks.to_dict("records"),
        "totals": report.totals,
    }
