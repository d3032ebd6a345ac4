"""`forecaster ingest`: register sources (bundled sample, Yahoo, Meteostat) and fetch them with
the ingest flow; a CSV file is read, then stored and recorded in one transaction."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING

from forecaster.cli.context import open_sessions, quiet_prefect
from forecaster.cli.reads import print_series
from forecaster.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from forecaster.app.ingest import Registration


def register_samples(sessions: sessionmaker[Session]) -> list[str]:
    """Register every bundled sample; returns their keys."""
    from forecaster.app.ingest import register, samples

    with sessions.begin() as session:
        return [s.key for s in register(session=session, registrations=samples())]


def run_ingest(
    settings: Settings, sessions: sessionmaker[Session], keys: list[str], start: date | None
) -> int:
    """The ingest flow over `keys`, one series at a time with a progress bar; 1 if any failed."""
    from tqdm import tqdm

    quiet_prefect(settings)
    from flows.common import outcome
    from flows.ingest import ingest

    failed = 0
    for key in (bar := tqdm(keys, desc="ingest", unit="series", file=sys.stderr)):
        bar.set_postfix_str(key)
        state = ingest(
            series=[key], start=start, database_url=settings.database_url, return_state=True
        )
        out = outcome(state).to_json()
        for k, reason in out["errors"].items():
            print(f"error: {k}: {reason}", file=sys.stderr)
            failed += 1
        for k, rows in out["rows"].items():
            tqdm.write(f"{k}: {rows} values upserted (run {out['run_id']})", file=sys.stderr)
    print_series(sessions, keys, as_json=False)
    return 1 if failed else 0


def _registrations(args: argparse.Namespace) -> list[Registration]:
    from forecaster.app import ingest

    kind = args.ingest_kind
    if kind == "sample":
        return ingest.samples()
    if kind == "yahoo":
        return [ingest.yahoo(t.upper(), t) for t in args.tickers]
    if kind == "meteostat":
        lat, lon = args.point or (None, None)
        return [ingest.meteostat(args.key, station=args.station, lat=lat, lon=lon)]
    raise ValueError(f"not a fetched source: {kind!r} (a CSV is read by ingest_csv)")


def ingest_csv(args: argparse.Namespace, settings: Settings) -> int:
    """A CSV file: read and checked, then registered, stored and recorded as an ingest run in
    one transaction (forecaster.app.ingest.ingest_frame), so Ctrl-C or kill -9 at any point
    leaves no rows, no run and no empty series."""
    from forecaster.app.ingest import ingest_frame, read_csv_file
    from forecaster.app.runs import LeasePolicy

    csv = read_csv_file(args.key, args.path, time_column=args.time_column, freq=args.freq)
    with open_sessions(settings, migrate=True) as sessions:
        with sessions.begin() as session:
            out = ingest_frame(
                session=session,
                csv=csv,
                policy=LeasePolicy.from_settings(settings),
                trigger="cli",
                mode="cli",
            )
        for key, rows in out.rows.items():
            print(f"{key}: {rows} values upserted (run {out.run_id})", file=sys.stderr)
        print_series(sessions, [args.key], as_json=False)
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.app.ingest import ingest_sources

    if args.ingest_kind == "csv":
        return ingest_csv(args, settings)
    registrations = _registrations(args)
    start = getattr(args, "start", None)
    with open_sessions(settings, migrate=True) as sessions:
        status, removed = ingest_sources(
            sessions, registrations, lambda keys: run_ingest(settings, sessions, keys, start)
        )
    for key in removed:
        print(f"{key}: nothing was stored, so it is not registered", file=sys.stderr)
    return status
