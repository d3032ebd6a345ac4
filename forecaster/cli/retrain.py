"""`forecaster retrain`: the retrain flow over all series or the keys given, and its outcome."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from forecaster.architectures import variant_label
from forecaster.cli.context import open_sessions, quiet_prefect
from forecaster.cli.render import print_table
from forecaster.config import Settings
from forecaster.errors import UnknownSeries

OUTCOME_COLUMNS = ["series", "model", "strategy", "version", "promoted", "outcome"]


def check_keys(settings: Settings, keys: list[str]) -> None:
    """Before the flow starts: an unknown key is one line, not a Prefect traceback."""
    from forecaster.db import series as series_db

    with open_sessions(settings) as sessions:
        if not keys:
            return
        with sessions.begin() as session:
            known = [s.key for s in series_db.list_series(session=session)]
    unknown = [k for k in keys if k not in known]
    if unknown:
        stored = ", ".join(known) if known else "none yet (`forecaster ingest` stores one)"
        raise UnknownSeries(
            f"unknown series {', '.join(map(repr, unknown))}; known series: {stored} "
            "(`forecaster series` lists them)"
        )


def cmd_retrain(args: argparse.Namespace, settings: Settings) -> int:
    quiet_prefect(settings)
    from flows.common import outcome
    from flows.retrain import retrain

    check_keys(settings, args.keys)
    print("retraining (each candidate is a Prefect task; progress below)...", file=sys.stderr)
    state = retrain(
        series=args.keys or None,
        database_url=settings.database_url,
        config_path=args.config,
        quick=args.quick,
        return_state=True,  # a cancelled run is a Cancelled state, not an exception
    )
    out = outcome(state).to_json()
    if out.get("cancelled"):
        print(f"run {out['run_id']} was cancelled; nothing of it was promoted", file=sys.stderr)
        return 1
    print_outcome(out, labels=variant_labels(settings, out["candidates"]))
    return 1 if out["failed"] else 0


def variant_labels(settings: Settings, candidates: Sequence[dict[str, Any]]) -> dict[int, str]:
    """Each registered candidate's label ("seq2seq-attention (segment 5)"), from its version."""
    from forecaster.app import catalog

    ids = sorted({c["version_id"] for c in candidates if c.get("version_id") is not None})
    if not ids:
        return {}
    with open_sessions(settings) as sessions, sessions.begin() as session:
        versions = [catalog.get_version(session=session, version_id=i) for i in ids]
        return {v.id: variant_label(v.architecture, v.hyperparameters) for v in versions}


def print_outcome(out: dict[str, Any], *, labels: Mapping[int, str]) -> None:
    """Each candidate's verdict, its notices, the run's summary, and the baselines served."""

    def label(c: dict[str, Any]) -> str:
        return labels.get(c["version_id"]) or variant_label(c["architecture"])

    rows = [
        {
            "series": c["series"],
            "model": label(c),
            "strategy": c["strategy"],
            "version": c["version_id"],
            "promoted": "yes" if c["promoted"] else "",
            "outcome": c["reason"],
        }
        for c in out["candidates"]
    ]
    print_table(rows, OUTCOME_COLUMNS)
    for c in out["candidates"]:
        for notice in c.get("notices", []):
            print(
                f"note: version {c['version_id']} ({c['series']} {label(c)}/{c['strategy']}): {notice}"
            )
    cut = out.get("cut_short", [])
    summary = f"{len(out['promoted'])} promoted, {len(out['failed'])} failed"
    if cut:
        summary += (
            f", {len(cut)} cut short by the time budget (their weights depend on machine speed)"
        )
    print(f"run {out['run_id']}: {summary}")
    print_no_skill(out.get("served", []))


def print_no_skill(served: Sequence[dict[str, Any]]) -> None:
    """One sentence per series and strategy that a baseline serves."""
    from forecaster.skill import no_skill_sentence

    for s in served:
        if s["baseline"]:
            score = "" if s["score"] is None else f"{s['metric']} {s['score']:.4f}"
            figures = ", ".join(p for p in (f"version {s['version_id']}", score) if p)
            print(
                f"{s['series']} {s['strategy']}: "
                + no_skill_sentence(s["architecture"], figures=figures)
            )
