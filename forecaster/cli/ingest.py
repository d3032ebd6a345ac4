"""`forecaster ingest`: register sources (bundled sample, Yahoo, Meteostat, CSV) and fetch them."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

from forecaster.cli.context import open_sessions, quiet_prefect
from forecaster.cli.reads import print_series
from forecaster.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def register(sessions: sessionmaker[Session], specs: list[dict[str, Any]]) -> list[str]:
    from forecaster.db import repo

    with sessions.begin() as session:
        return [repo.register_series(session=session, **spec).key for spec in specs]


def run_ingest(
    settings: Settings, sessions: sessionmaker[Session], keys: list[str], start: date | None
) -> int:
    """The ingest flow over `keys`, one series at a time with a progress bar; 1 if any failed."""
    from tqdm import tqdm

    quiet_prefect(settings)
    from flows.ingest import ingest

    failed = 0
    for key in (bar := tqdm(keys, desc="ingest", unit="series", file=sys.stderr)):
        bar.set_postfix_str(key)
        out = ingest(series=[key], start=start, database_url=settings.database_url)
        for k, reason in out["errors"].items():
            print(f"error: {k}: {reason}", file=sys.stderr)
            failed += 1
        for k, rows in out["rows"].items():
            tqdm.write(f"{k}: {rows} values upserted (run {out['run_id']})", file=sys.stderr)
    print_series(sessions, keys, as_json=False)
    return 1 if failed else 0


def sample_specs() -> list[dict[str, Any]]:
    from forecaster.sources.samples import SAMPLES

    return [
        {
            "key": s.key,
            "source": "csv",
            "params": {"sample": s.filename},
            "frequency": s.frequency,
        }
        for s in SAMPLES
    ]


def _specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    kind = args.ingest_kind
    if kind == "sample":
        return sample_specs()
    if kind == "yahoo":
        return [
            {
                "key": t.upper(),
                "source": "yahoo",
                "params": {"ticker": t.upper()},
                "frequency": "B",
                "timezone": "America/New_York",
            }
            for t in args.tickers
        ]
    if kind == "meteostat":
        if args.station:
            params: dict[str, Any] = {"station": args.station}
        else:
            params = {"lat": args.point[0], "lon": args.point[1]}
        return [{"key": args.key, "source": "meteostat", "params": params, "frequency": "D"}]
    from forecaster.sources.csv import read_csv

    path = os.path.abspath(args.path)
    _, freq = read_csv(
        path, time_column=args.time_column, freq=args.freq
    )  # fail before registering
    params = {"path": path}
    if args.time_column:
        params["time_column"] = args.time_column
    return [{"key": args.key, "source": "csv", "params": params, "frequency": args.freq or freq}]


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.db import repo

    specs = _specs(args)
    with open_sessions(settings, migrate=True) as sessions:
        with sessions.begin() as session:
            existing = {s.key for s in repo.list_series(session=session)}
        keys = register(sessions, specs)
        status = run_ingest(settings, sessions, keys, getattr(args, "start", None))
        # A series this command registered whose first fetch stored nothing is removed again: a
        # failed ingest leaves the database as it found it (no empty series behind).
        with sessions.begin() as session:
            for spec in specs:
                if spec["key"] in existing:
                    continue
                series = repo.get_series(session=session, key=spec["key"])
                if repo.latest_timestamp(session=session, series_id=series.id) is None:
                    session.delete(series)
                    print(
                        f"{spec['key']}: nothing was stored, so it is not registered",
                        file=sys.stderr,
                    )
    return status
