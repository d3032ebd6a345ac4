"""The `forecaster` command: db, ingest, series, train, forecast, models, retrain, runs, serve, demo."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from forecaster.config import Settings, get_settings
from forecaster.errors import ForecasterError

Handler = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, Handler] = {}


def _quiet_prefect() -> None:
    # Offline: no telemetry (it can lock the ephemeral server's SQLite file), patient start-up.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD"
        ) from None


def _point(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not LAT,LON (e.g. 47.61,-122.33)"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError(
            f"{text!r}: latitude must be in [-90, 90], longitude in [-180, 180]"
        )
    return lat, lon


def _json_default(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    cells = [
        [("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows
    ]
    widths = [
        max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)
    ]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


# --- db --------------------------------------------------------------------------------


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.db.session import upgrade

    upgrade(settings.database_url)
    print(f"database at head: {settings.database_url}")
    return 0


# --- ingest -----------------------------------------------------------------------------


def _register(settings: Settings, specs: list[dict[str, Any]]) -> list[str]:
    from forecaster.db import repo
    from forecaster.db.session import make_session_factory, upgrade

    upgrade(settings.database_url)
    factory = make_session_factory(settings.database_url)
    with factory.begin() as session:
        keys = [repo.register_series(session=session, **spec).key for spec in specs]
    factory.kw["bind"].dispose()
    return keys


def _run_ingest(settings: Settings, keys: list[str], start: date | None) -> int:
    from tqdm import tqdm

    _quiet_prefect()
    from flows.ingest import ingest

    failed = 0
    for key in (bar := tqdm(keys, desc="ingest", unit="series", file=sys.stderr)):
        bar.set_postfix_str(key)
        out = ingest(series=[key], start=start, database_url=settings.database_url)
        for k, reason in out["errors"].items():
            print(f"error: {k}: {reason}", file=sys.stderr)
            failed += 1
        for k, rows in out["rows"].items():
            tqdm.write(
                f"{k}: {rows} values upserted (run {out['run_id']})", file=sys.stderr
            )
    _print_series(settings, keys, as_json=False)
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


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    kind = args.ingest_kind
    if kind == "sample":
        specs = sample_specs()
    elif kind == "yahoo":
        specs = [
            {
                "key": t.upper(),
                "source": "yahoo",
                "params": {"ticker": t.upper()},
                "frequency": "B",
                "timezone": "America/New_York",
            }
            for t in args.tickers
        ]
    elif kind == "meteostat":
        if args.station:
            params: dict[str, Any] = {"station": args.station}
        else:
            params = {"lat": args.point[0], "lon": args.point[1]}
        specs = [
            {"key": args.key, "source": "meteostat", "params": params, "frequency": "D"}
        ]
    else:  # csv
        from forecaster.sources.csv import read_csv

        path = os.path.abspath(args.path)
        _, freq = read_csv(
            path, time_column=args.time_column, freq=args.freq
        )  # fail before registering
        params = {"path": path}
        if args.time_column:
            params["time_column"] = args.time_column
        specs = [
            {
                "key": args.key,
                "source": "csv",
                "params": params,
                "frequency": args.freq or freq,
            }
        ]
    return _run_ingest(
        settings, _register(settings, specs), getattr(args, "start", None)
    )


# --- series -----------------------------------------------------------------------------


def _print_series(settings: Settings, keys: list[str] | None, *, as_json: bool) -> None:
    from forecaster.db import repo
    from forecaster.db.session import make_session_factory

    factory = make_session_factory(settings.database_url)
    with factory.begin() as session:
        rows = [
            r
            for r in repo.series_summaries(session=session)
            if keys is None or r["key"] in keys
        ]
    factory.kw["bind"].dispose()
    if as_json:
        print(json.dumps(rows, default=_json_default, indent=2))
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
    _print_table(
        rows, ["key", "source", "frequency", "first", "last", "rows", "variables"]
    )


def cmd_series(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.db.session import upgrade

    upgrade(settings.database_url)
    _print_series(settings, None, as_json=args.json)
    return 0


# --- parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forecaster", description=__doc__)
    parser.add_argument("--database-url", help="overrides FORECASTER_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser(
        "upgrade", help="migrate the database to the newest schema"
    ).set_defaults(handler=cmd_db_upgrade)

    ing = sub.add_parser("ingest", help="fetch data into the database")
    ing_sub = ing.add_subparsers(dest="ingest_kind", required=True)
    ing_sub.add_parser("sample", help="the bundled real sample (stocks and weather)")
    y = ing_sub.add_parser(
        "yahoo", help="daily prices of one or more tickers from Yahoo Finance"
    )
    y.add_argument("tickers", nargs="+", metavar="TICKER")
    y.add_argument(
        "--start",
        type=_date,
        help="first date (default: continue from the last stored day)",
    )
    m = ing_sub.add_parser(
        "meteostat", help="daily weather for a station or a point from Meteostat"
    )
    where = m.add_mutually_exclusive_group(required=True)
    where.add_argument("--station", help="Meteostat station id, e.g. 72509")
    where.add_argument("--point", type=_point, help="LAT,LON, e.g. 47.61,-122.33")
    m.add_argument(
        "--key", required=True, help="series key to store it under, e.g. boston-weather"
    )
    m.add_argument("--start", type=_date)
    c = ing_sub.add_parser("csv", help="a tidy CSV: a time column and numeric columns")
    c.add_argument("path")
    c.add_argument("--key", required=True)
    c.add_argument("--time-column")
    c.add_argument("--freq", help="pandas frequency alias (B, D, h); default: inferred")
    ing.set_defaults(handler=cmd_ingest)

    s = sub.add_parser("series", help="list stored series")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_series)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    logging.basicConfig(
        level=settings.log_level, format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in (
        "httpx",
        "httpcore",
        "prefect",
        "alembic",
    ):  # their INFO lines bury ours
        logging.getLogger(noisy).setLevel(
            max(logging.WARNING, logging.getLogger().level)
        )
    try:
        return args.handler(args, settings)
    except ForecasterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
