"""The command line: every command's arguments and the handler that runs it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from forecaster.cli.accuracy import cmd_accuracy
from forecaster.cli.args import Version, iso_date, lat_lon, positive_int
from forecaster.cli.forecast import cmd_forecast
from forecaster.cli.ingest import cmd_ingest
from forecaster.cli.reads import cmd_models, cmd_runs, cmd_series
from forecaster.cli.replay import cmd_replay
from forecaster.cli.retrain import cmd_retrain
from forecaster.cli.serve import cmd_db_upgrade, cmd_demo, cmd_serve
from forecaster.cli.train import cmd_train

DESCRIPTION = """The `forecaster` command: db, ingest, series, train, forecast, models, retrain, runs, serve, demo.

Start-up matters here: the module imports only the standard library, settings and errors, and
each command imports what it needs. Read commands (`series`, `models`, `runs`, `forecast` of a
stored forecast) never import torch or Prefect (tests/forecaster/cli/test_reads.py checks;
bench/cli.py times them); a new command should import its heavy modules inside its handler.
"""

Subparsers = Any  # argparse's _SubParsersAction


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forecaster", description=DESCRIPTION)
    parser.add_argument("--version", action=Version)
    parser.add_argument("--database-url", help="overrides FORECASTER_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = [_db, _ingest, _series, _train, _forecast, _models, _retrain, _runs, _accuracy]
    for add in [*commands, _replay, _serve, _demo]:  # the order `forecaster --help` lists
        add(sub)
    return parser


def _db(sub: Subparsers) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate the database to the newest schema").set_defaults(
        handler=cmd_db_upgrade
    )


def _ingest(sub: Subparsers) -> None:
    ing = sub.add_parser("ingest", help="fetch data into the database")
    ing_sub = ing.add_subparsers(dest="ingest_kind", required=True)
    ing_sub.add_parser("sample", help="the bundled real sample (stocks and weather)")
    y = ing_sub.add_parser("yahoo", help="daily prices of one or more tickers from Yahoo Finance")
    y.add_argument("tickers", nargs="+", metavar="TICKER")
    y.add_argument(
        "--start",
        type=iso_date,
        help="first date (default: continue from the last stored day)",
    )
    m = ing_sub.add_parser(
        "meteostat", help="daily weather for a station or a point from Meteostat"
    )
    where = m.add_mutually_exclusive_group(required=True)
    where.add_argument("--station", help="Meteostat station id, e.g. 72509")
    where.add_argument("--point", type=lat_lon, help="LAT,LON, e.g. 47.61,-122.33")
    m.add_argument("--key", required=True, help="series key to store it under, e.g. boston-weather")
    m.add_argument("--start", type=iso_date)
    c = ing_sub.add_parser("csv", help="a tidy CSV: a time column and numeric columns")
    c.add_argument("path")
    c.add_argument("--key", required=True)
    c.add_argument("--time-column")
    c.add_argument("--freq", help="pandas frequency alias (B, D, h); default: inferred")
    ing.set_defaults(handler=cmd_ingest)


def _series(sub: Subparsers) -> None:
    s = sub.add_parser("series", help="list stored series")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_series)


def _train(sub: Subparsers) -> None:
    t = sub.add_parser("train", help="train one model on a stored series and register it")
    t.add_argument("key")
    t.add_argument("--arch", choices=["lstm", "gru", "rnn", "seq2seq"], default="lstm")
    t.add_argument("--strategy", choices=["recursive", "direct"], default="recursive")
    t.add_argument("--lookback", type=int, default=60)
    t.add_argument("--horizon", type=int, default=10)
    t.add_argument("--targets", help="comma-separated target variables (default: close / tmax)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--hidden", type=int, default=32)
    t.add_argument("--layers", type=int, default=1)
    t.add_argument("--segment-len", type=int, help="SegRNN-style segments (direct strategy)")
    t.add_argument(
        "--transform",
        choices=["level", "log_return", "log1p"],
        default="level",
        help="per variable; one that cannot apply to a variable falls back (the note says why)",
    )
    t.add_argument("--normalization", choices=["revin", "global", "both", "none"], default="revin")
    t.add_argument(
        "--loss",
        choices=["mse", "l1", "huber"],
        default="mse",
        help="training loss, also used on validation for early stopping",
    )
    t.add_argument(
        "--time-budget",
        type=float,
        help="safety cap on training seconds (positive); epochs bound the fit, a cut is reported",
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--promote", action="store_true", help="make it champion even if it does not win"
    )
    t.set_defaults(handler=cmd_train)


def _forecast(sub: Subparsers) -> None:
    f = sub.add_parser("forecast", help="forecast a series with its champion (or --model ID)")
    f.add_argument("key")
    f.add_argument("--horizon", type=int)
    f.add_argument(
        "--strategy",
        choices=["recursive", "direct"],
        help="default: recursive for the champion, the version's own with --model ID",
    )
    f.add_argument("--model", default="champion", help="'champion' or a model version id")
    f.add_argument("--level", type=float, help="interval level, e.g. 0.9")
    f.add_argument("--json", action="store_true")
    f.set_defaults(handler=cmd_forecast)


def _models(sub: Subparsers) -> None:
    mo = sub.add_parser("models", help="list model versions")
    mo.add_argument("key", nargs="?")
    mo.add_argument("--json", action="store_true")
    mo.set_defaults(handler=cmd_models)


def _retrain(sub: Subparsers) -> None:
    r = sub.add_parser("retrain", help="run the retrain flow (all series, or the keys given)")
    r.add_argument("keys", nargs="*", metavar="KEY")
    r.add_argument(
        "--config", help="retrain YAML (default: FORECASTER_RETRAIN_CONFIG or the bundled one)"
    )
    r.add_argument(
        "--quick", action="store_true", help="the config's quick settings (brief training)"
    )
    r.set_defaults(handler=cmd_retrain)


def _runs(sub: Subparsers) -> None:
    ru = sub.add_parser("runs", help="recent flow runs")
    ru.add_argument("--json", action="store_true")
    ru.add_argument("--limit", type=int, default=20)
    ru.set_defaults(handler=cmd_runs)


def _accuracy(sub: Subparsers) -> None:
    ac = sub.add_parser("accuracy", help="live accuracy of a series' served forecasts")
    ac.add_argument("key", metavar="KEY")
    ac.add_argument("--strategy", choices=["recursive", "direct"], default="recursive")
    ac.add_argument(
        "--since", type=iso_date, help="only forecasts issued from this date (YYYY-MM-DD)"
    )
    ac.add_argument("--steps", type=positive_int, help="only steps 1..STEPS")
    ac.add_argument("--json", action="store_true")
    ac.set_defaults(handler=cmd_accuracy)


def _replay(sub: Subparsers) -> None:
    rp = sub.add_parser(
        "replay",
        help="replay a bundled history day by day: ingest, forecast, scoring, retrain policy",
    )
    rp.add_argument("key", metavar="KEY", help="a bundled sample (AAPL, IBM, seattle-weather)")
    rp.add_argument("--start", type=iso_date, required=True, help="first replayed day (YYYY-MM-DD)")
    rp.add_argument("--end", type=iso_date, help="last replayed day (default: the history's end)")
    rp.add_argument(
        "--schedule",
        choices=["policy", "weekly", "both", "never"],
        default="policy",
        help="what starts retrains: the live-accuracy policy (default), a weekly schedule, both, "
        "or nothing",
    )
    rp.add_argument("--config", type=Path, help="retrain YAML (candidates and policy)")
    rp.add_argument("--quick", action="store_true", help="the config's quick settings")
    rp.add_argument("--window", type=positive_int, help="override the policy's window")
    rp.add_argument("--min-origins", type=positive_int, help="override the policy's min_origins")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(handler=cmd_replay)


def _serve(sub: Subparsers) -> None:
    sv = sub.add_parser("serve", help="migrate the database and serve the HTTP API")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.set_defaults(handler=cmd_serve)


def _demo(sub: Subparsers) -> None:
    d = sub.add_parser("demo", help="migrate, ingest the bundled sample, retrain, serve the API")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--retrain", action="store_true", help="retrain even where champions exist")
    d.add_argument("--no-serve", action="store_true", help="stop after training")
    d.set_defaults(handler=cmd_demo)
