"""Read commands: `series`, `models`, `runs`. They import no torch and no Prefect."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from forecaster.architectures import variant_label
from forecaster.cli.context import open_sessions
from forecaster.cli.render import fmt, json_default, print_table, utc_time
from forecaster.config import Settings
from forecaster.errors import InvalidRequest

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

SERIES_COLUMNS = [
    "key",
    "source",
    "frequency",
    "first",
    "last",
    "timestamps",
    "values",
    "variables",
]
MODEL_COLUMNS = [
    "id",
    "series",
    "model",
    "strategy",
    "status",
    "lookback",
    "horizon",
    "metric",
    "score",
    "train_end",
    "created_at",
]
RUN_COLUMNS = ["id", "kind", "status", "series", "started_at", "finished_at", "error"]


def print_series(sessions: sessionmaker[Session], keys: list[str] | None, *, as_json: bool) -> None:
    """The stored series (those in `keys`, or all) as a table or JSON."""
    from forecaster.db import series as series_db

    with sessions.begin() as session:
        rows: list[dict[str, Any]] = [
            r
            for r in series_db.series_summaries(session=session)
            if keys is None or r["key"] in keys
        ]
    if as_json:
        print(json.dumps(rows, default=json_default, indent=2))
        return
    if not rows:
        print(
            "no series stored yet: run `forecaster ingest sample` (bundled data) or `forecaster ingest yahoo TICKER`"
        )
        return
    for r in rows:
        r["variables"] = ",".join(r["variables"])
        r["first"] = r["first"] and r["first"].date()
        r["last"] = r["last"] and r["last"].date()
    print_table(rows, SERIES_COLUMNS)


def cmd_series(args: argparse.Namespace, settings: Settings) -> int:
    with open_sessions(settings) as sessions:
        print_series(sessions, None, as_json=args.json)
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.app import catalog
    from forecaster.db import series as series_db

    with open_sessions(settings) as sessions, sessions.begin() as session:
        key = args.series or args.key
        series_id = series_db.get_series(session=session, key=key).id if key else None
        keys = {s.id: s.key for s in series_db.list_series(session=session)}
        rows: list[dict[str, Any]] = [
            {
                "id": v.id,
                "series": keys.get(v.series_id),
                "architecture": v.architecture,
                "label": variant_label(v.architecture, v.hyperparameters),
                "strategy": v.strategy,
                "status": v.status,
                "lookback": v.hyperparameters.get("lookback"),
                "horizon": v.hyperparameters.get("horizon"),
                "metric": v.primary_metric,
                "score": v.primary_score,
                "train_start": v.train_start,
                "train_end": v.train_end,
                "created_at": v.created_at,
            }
            for v in catalog.list_versions(session=session, series_id=series_id)
        ]
    if args.json:
        print(json.dumps(rows, default=json_default, indent=2))
    elif not rows:
        print("no models yet: `forecaster train KEY` or `forecaster retrain`")
    else:
        for r in rows:
            r["model"] = r["label"]
            r["score"] = fmt(r["score"])
            r["created_at"] = utc_time(r["created_at"], "%Y-%m-%d %H:%M")
            r["train_end"] = r["train_end"] and f"{r['train_end']:%Y-%m-%d}"
        print_table(rows, MODEL_COLUMNS)
    return 0


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.db import runs as runs_db

    if args.limit < 1:
        raise InvalidRequest(
            f"--limit {args.limit} is not valid; give a positive number of runs to list, e.g. 20"
        )
    with open_sessions(settings) as sessions, sessions.begin() as session:
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "kind": r.kind,
                "status": r.status,
                "series": ",".join(r.parameters.get("series") or []) or "all",
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "error": r.error,
                "result": r.result,
            }
            for r in runs_db.list_runs(session=session, limit=args.limit)
        ]
    if args.json:
        print(json.dumps(rows, default=json_default, indent=2))
        return 0
    for r in rows:
        r["error"] = str(r["error"]).splitlines()[0][:80] if r["error"] else ""
        r["started_at"] = utc_time(r["started_at"])
        r["finished_at"] = utc_time(r["finished_at"])
    print_table(rows, RUN_COLUMNS)
    return 0
