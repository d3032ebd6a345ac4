"""The `forecaster` command: db, ingest, series, train, forecast, models, retrain, runs, serve, demo.

Start-up matters here: the module imports only the standard library, settings and errors, and
each command imports what it needs. Read commands (`series`, `models`, `runs`, `forecast` of a
stored forecast) never import torch or Prefect (tests/forecaster/test_cli_imports.py checks;
bench/cli.py times them); a new command should import its heavy modules inside its handler.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from forecaster.config import Settings, get_settings
from forecaster.errors import ForecasterError, InvalidRequest, UnknownSeries

Handler = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, Handler] = {}


def _quiet_prefect(settings: Settings) -> None:
    """Offline Prefect in the project's own home, on the project's server when one is up
    (forecaster.orchestration): a flow command then pays no server start-up."""
    from forecaster.orchestration import use_running_server

    use_running_server(settings.data_dir)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _point(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LAT,LON (e.g. 47.61,-122.33)") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError(
            f"{text!r}: latitude must be in [-90, 90], longitude in [-180, 180]"
        )
    return lat, lon


def _json_default(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


# Domain messages name the API's routes (its users read them); here each becomes the command
# that does the same, so a CLI error never sends its reader to HTTP.
_CLI_HINTS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"`forecaster models` or GET /api/v1/models lists them"),
        "`forecaster models` lists them",
    ),
    (re.compile(r"GET /api/v1/models\?series=(\S+) lists"), r"`forecaster models \1` lists"),
    (re.compile(r"GET /api/v1/models"), "`forecaster models`"),
    (re.compile(r"\(GET /api/v1/series lists them\)"), "(`forecaster series` lists them)"),
    (re.compile(r"GET /api/v1/runs"), "`forecaster runs`"),
    (
        re.compile(r"`forecaster train (\S+) --strategy (\w+)` or POST /api/v1/runs \{[^}]*\}"),
        r"`forecaster train \1 --strategy \2` or `forecaster retrain \1`",
    ),
]


def cli_message(message: str) -> str:
    """A domain error's message as a CLI user should read it: one line, commands not routes."""
    for pattern, replacement in _CLI_HINTS:
        message = pattern.sub(replacement, message)
    return " ".join(message.split())


# --- db --------------------------------------------------------------------------------


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.db.session import upgrade

    upgrade(settings.database_url)
    print(f"database at head: {settings.database_url}")
    return 0


# --- ingest -----------------------------------------------------------------------------


def _register(settings: Settings, specs: list[dict[str, Any]]) -> list[str]:
    from forecaster.db import series as series_db
    from forecaster.db.session import make_session_factory, upgrade

    upgrade(settings.database_url)
    factory = make_session_factory(settings.database_url)
    with factory.begin() as session:
        keys = [series_db.register_series(session=session, **spec).key for spec in specs]
    factory.kw["bind"].dispose()
    return keys


def _run_ingest(settings: Settings, keys: list[str], start: date | None) -> int:
    from tqdm import tqdm

    _quiet_prefect(settings)
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
        specs = [{"key": args.key, "source": "meteostat", "params": params, "frequency": "D"}]
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
    from forecaster.db import observations as observations_db
    from forecaster.db import series as series_db
    from forecaster.db.session import make_session_factory, upgrade

    upgrade(settings.database_url)
    factory = make_session_factory(settings.database_url)
    with factory.begin() as session:
        existing = {s.key for s in series_db.list_series(session=session)}
    status = _run_ingest(settings, _register(settings, specs), getattr(args, "start", None))
    # A series this command registered whose first fetch stored nothing is removed again: a
    # failed ingest leaves the database as it found it (no empty series behind).
    with factory.begin() as session:
        for spec in specs:
            if spec["key"] in existing:
                continue
            series = series_db.get_series(session=session, key=spec["key"])
            if observations_db.latest_timestamp(session=session, series_id=series.id) is None:
                session.delete(series)
                print(
                    f"{spec['key']}: nothing was stored, so it is not registered", file=sys.stderr
                )
    factory.kw["bind"].dispose()
    return status


# --- series -----------------------------------------------------------------------------


def _print_series(settings: Settings, keys: list[str] | None, *, as_json: bool) -> None:
    from forecaster.db import series as series_db
    from forecaster.db.session import make_session_factory

    factory = make_session_factory(settings.database_url)
    with factory.begin() as session:
        rows = [
            r
            for r in series_db.series_summaries(session=session)
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
        rows, ["key", "source", "frequency", "first", "last", "timestamps", "values", "variables"]
    )


def cmd_series(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.db.session import ensure_schema

    ensure_schema(settings.database_url)
    _print_series(settings, None, as_json=args.json)
    return 0


# --- models ---------------------------------------------------------------------------


def _sessions(settings: Settings):  # type: ignore[no-untyped-def]
    from forecaster.db.session import ensure_schema, make_session_factory

    ensure_schema(settings.database_url)
    return make_session_factory(settings.database_url)


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _metrics_rows(metrics: list[dict[str, Any]], *, pooled: bool = True) -> list[dict[str, Any]]:
    """Pivot per-metric rows to one row per (variable, step): model beside naive per metric."""
    table: dict[tuple[str, int], dict[str, Any]] = {}
    for m in metrics:
        if m["metric"] == "coverage" or (pooled and m["step"] != 0):
            continue
        row = table.setdefault(
            (m["variable"], m["step"]), {"variable": m["variable"], "step": m["step"] or "all"}
        )
        row[m["metric"]] = _fmt(m["model"])
        row[f"{m['metric']} naive"] = _fmt(m["naive"])
        row[f"{m['metric']} snaive"] = _fmt(m["seasonal_naive"])
    return [table[k] for k in sorted(table)]


METRIC_COLUMNS = [
    "variable",
    "step",
    "mae",
    "mae naive",
    "mae snaive",
    "rmse",
    "rmse naive",
    "mape",
    "mape naive",
    "mase",
    "mase naive",
    "mase snaive",
]


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from forecaster.forecasting import ModelSpec
    from forecaster.service import TrainRequest, metrics_table, train_series
    from forecaster.skill import skill_sentence

    arch = "seq2seq_attention" if args.arch == "seq2seq" else args.arch
    fields: dict[str, Any] = {
        "architecture": arch,
        "strategy": args.strategy,
        "lookback": args.lookback,
        "horizon": args.horizon,
        "epochs": args.epochs,
        "hidden_size": args.hidden,
        "num_layers": args.layers,
        "seed": args.seed,
        "transform": args.transform,
        "normalization": args.normalization,
        "loss": args.loss,
    }
    if args.targets:
        fields["targets"] = tuple(args.targets.split(","))
    if args.segment_len:
        fields["segment_len"] = args.segment_len
    if args.time_budget is not None:
        if not args.time_budget > 0:  # also NaN
            raise InvalidRequest(
                f"--time-budget {args.time_budget:g} is not valid; give a positive number of "
                "seconds (a safety cap, e.g. 300) or leave it out for no cap"
            )
        fields["time_budget_s"] = args.time_budget
    spec = ModelSpec(**fields)
    sessions = _sessions(settings)
    bars: list[Any] = []  # made on the first epoch, so an invalid request prints no bar

    def progress(info: dict[str, Any]) -> None:
        if not bars:
            desc = f"train {args.key} {arch}/{args.strategy}"
            bars.append(tqdm(total=spec.epochs, desc=desc, unit="epoch", file=sys.stderr))
        bar = bars[0]
        bar.n = int(info.get("epoch", bar.n))
        bar.set_postfix({k: f"{v:.4f}" for k, v in info.items() if k in ("train_loss", "val_loss")})
        bar.refresh()

    request = TrainRequest(args.key, spec, promote=args.promote)
    try:
        decision = train_series(
            sessions=sessions,
            request=request,
            threads=settings.torch_threads or None,
            device=settings.device,
            progress=progress,
        )
    finally:
        for bar in bars:
            bar.close()
    with sessions.begin() as session:
        # the table and the skill line are both the backtest the champion rule judged
        split, metrics = metrics_table(
            session=session, version_id=decision.version_id, splits=("backtest", "test")
        )
    steps = max((int(m["step"]) for m in metrics), default=0)
    served = None
    if decision.baseline_served and decision.served_architecture is not None:
        # the served baseline's figures on these very windows: its column of the table
        served = [{**m, "model": m[decision.served_architecture]} for m in metrics]
    print(f"model version {decision.version_id}: {arch}/{args.strategy} on {args.key}")
    print(
        f"{'promoted to champion' if decision.promoted else 'kept as candidate'}: {decision.reason}"
    )
    for notice in decision.extra.get("notices", []):
        print(f"note: {notice}")
    span = "step 1" if steps == 1 else f"steps 1-{steps}"
    windows = "" if split != "backtest" else " (the recent window the champion rule judges)"
    print(
        f"\n{split} split{windows}, {span}, original scale "
        "(naive = last value; snaive = seasonal naive):"
    )
    _print_table(_metrics_rows(metrics), METRIC_COLUMNS)
    sentence = skill_sentence(metrics, architecture=arch, split=split, steps=steps)
    if sentence:
        print(f"\n{sentence}")
    if served is not None and decision.served_architecture is not None:
        line = skill_sentence(
            served, architecture=decision.served_architecture, split=split, steps=steps
        )
        print(f"{line} Version {decision.served_id} is the {args.strategy} champion.")
    return 0


def cmd_forecast(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.catalog import stored_forecast

    sessions = _sessions(settings)
    request = {
        "series_key": args.key,
        "horizon": args.horizon,
        "strategy": args.strategy,
        "model": args.model,
        "level": args.level,
    }
    with sessions.begin() as session:
        # the forecast flow's stored forecast needs no model (no torch); any other runs it
        fc = stored_forecast(session=session, **request)
        if fc is None:
            from forecaster.service import forecast_series

            fc = forecast_series(
                session=session, **request, max_horizon=settings.forecast_max_horizon
            )
    sessions.kw["bind"].dispose()
    if args.json:
        print(
            json.dumps(
                {
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
                },
                default=_json_default,
                indent=2,
            )
        )
        return 0
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
            "ts": f"{r.ts:%Y-%m-%d %H:%M}".removesuffix(" 00:00"),
            "variable": r.variable,
            "value": _fmt(r.value),
            "lower": _fmt(r.lower),
            "upper": _fmt(r.upper),
            "coverage": _fmt(getattr(r, "coverage", None)),
            "width": _fmt(getattr(r, "width", None)),
        }
        for r in fc.points.itertuples()
    ]
    _print_table(rows, ["step", "ts", "variable", "value", "lower", "upper", "coverage", "width"])
    if fc.metrics:
        span = "step 1" if fc.metrics_steps == 1 else f"steps 1-{fc.metrics_steps}"
        print(
            f"\n{fc.metrics_split} errors of this version over {span}, original scale "
            "(naive = last value; snaive = seasonal naive):"
        )
        _print_table(_metrics_rows(fc.metrics), METRIC_COLUMNS)
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster import catalog
    from forecaster.db import series as series_db

    sessions = _sessions(settings)
    with sessions.begin() as session:
        series_id = series_db.get_series(session=session, key=args.key).id if args.key else None
        keys = {s.id: s.key for s in series_db.list_series(session=session)}
        rows = [
            {
                "id": v.id,
                "series": keys.get(v.series_id),
                "architecture": v.architecture,
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
        print(json.dumps(rows, default=_json_default, indent=2))
    elif not rows:
        print("no models yet: `forecaster train KEY` or `forecaster retrain`")
    else:
        for r in rows:
            r["score"] = _fmt(r["score"])
            r["created_at"] = f"{r['created_at']:%Y-%m-%d %H:%M}"
            r["train_end"] = r["train_end"] and f"{r['train_end']:%Y-%m-%d}"
        _print_table(
            rows,
            [
                "id",
                "series",
                "architecture",
                "strategy",
                "status",
                "lookback",
                "horizon",
                "metric",
                "score",
                "train_end",
                "created_at",
            ],
        )
    return 0


def cmd_retrain(args: argparse.Namespace, settings: Settings) -> int:
    _quiet_prefect(settings)
    from flows.retrain import retrain

    sessions = _sessions(settings)
    if args.keys:  # before the flow starts: an unknown key is one line, not a Prefect traceback
        from forecaster.db import series as series_db

        with sessions.begin() as session:
            known = [s.key for s in series_db.list_series(session=session)]
        unknown = [k for k in args.keys if k not in known]
        if unknown:
            sessions.kw["bind"].dispose()
            stored = ", ".join(known) if known else "none yet (`forecaster ingest` stores one)"
            raise UnknownSeries(
                f"unknown series {', '.join(map(repr, unknown))}; known series: {stored} "
                "(`forecaster series` lists them)"
            )
    sessions.kw["bind"].dispose()
    print("retraining (each candidate is a Prefect task; progress below)...", file=sys.stderr)
    out = retrain(
        series=args.keys or None,
        database_url=settings.database_url,
        config_path=args.config,
        quick=args.quick,
    )
    if out.get("cancelled"):
        print(f"run {out['run_id']} was cancelled; nothing of it was promoted", file=sys.stderr)
        return 1
    rows = [
        {
            "series": c["series"],
            "model": c["architecture"],
            "strategy": c["strategy"],
            "version": c["version_id"],
            "promoted": "yes" if c["promoted"] else "",
            "outcome": c["reason"],
        }
        for c in out["candidates"]
    ]
    _print_table(rows, ["series", "model", "strategy", "version", "promoted", "outcome"])
    for c in out["candidates"]:
        for notice in c.get("notices", []):
            print(
                f"note: version {c['version_id']} ({c['series']} {c['architecture']}/{c['strategy']}): {notice}"
            )
    cut = out.get("cut_short", [])
    summary = f"{len(out['promoted'])} promoted, {len(out['failed'])} failed"
    if cut:
        summary += (
            f", {len(cut)} cut short by the time budget (their weights depend on machine speed)"
        )
    print(f"run {out['run_id']}: {summary}")
    _print_no_skill(out.get("served", []))
    return 1 if out["failed"] else 0


def _print_no_skill(served: Sequence[dict[str, Any]]) -> None:
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


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.db import runs as runs_db

    if args.limit < 1:
        raise InvalidRequest(
            f"--limit {args.limit} is not valid; give a positive number of runs to list, e.g. 20"
        )
    sessions = _sessions(settings)
    with sessions.begin() as session:
        rows = [
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
        print(json.dumps(rows, default=_json_default, indent=2))
        return 0
    for r in rows:
        r["error"] = str(r["error"]).splitlines()[0][:80] if r["error"] else ""
        r["started_at"] = r["started_at"] and f"{r['started_at']:%Y-%m-%d %H:%M:%S}"
        r["finished_at"] = r["finished_at"] and f"{r['finished_at']:%H:%M:%S}"
    _print_table(rows, ["id", "kind", "status", "series", "started_at", "finished_at", "error"])
    return 0


# --- demo -----------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The whole job on the embedded default: migrate, ingest the bundled sample, retrain, serve.

    Its flows run against one Prefect server for the project (started here, stopped on exit)."""
    from forecaster.orchestration import project_server

    with project_server(settings.data_dir):
        return _demo(args, settings)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster import registry
    from forecaster.db import series as series_db

    print(f"1/4 database: {settings.database_url}")
    sessions = _sessions(settings)
    print("2/4 ingesting the bundled real sample (AAPL, IBM daily prices; Seattle daily weather)")
    keys = _register(settings, sample_specs())
    status = _run_ingest(settings, keys, None)
    with sessions.begin() as session:
        untrained = [
            k
            for k in keys
            if registry.find_champion(
                session=session,
                series_id=series_db.get_series(session=session, key=k).id,
                strategy="direct",
            )
            is None
        ]
    todo = keys if args.retrain else untrained
    if todo:
        print(
            f"3/4 retraining {', '.join(todo)} with the quick settings (LSTM, GRU, seq2seq-attention; a few minutes)"
        )
        cmd_retrain(argparse.Namespace(keys=todo, config=None, quick=True), settings)
    else:
        print("3/4 every series has champions already (`forecaster demo --retrain` trains again)")
    cmd_models(argparse.Namespace(key=None, json=False), settings)
    if not todo:
        from forecaster.service import served_champions

        with sessions.begin() as session:
            _print_no_skill(served_champions(session=session, series_keys=keys))
    if args.no_serve:
        return status
    if settings.api_key is None:  # a key for this session, so Retrain and Promote work
        import secrets

        from pydantic import SecretStr

        settings = settings.model_copy(update={"api_key": SecretStr(secrets.token_urlsafe(12))})
        assert settings.api_key is not None
        key = settings.api_key.get_secret_value()
        print(f"\nAPI key for this demo session: {key}  (FORECASTER_API_KEY sets your own)")
    else:
        key = "$FORECASTER_API_KEY"
    base = f"http://{args.host}:{args.port}"
    print(f"""
4/4 serving the API and dashboard (Ctrl-C stops):
  dashboard   {base}/
  API docs    {base}/docs
  health      curl {base}/health
  series      curl {base}/api/v1/series
  forecast    curl '{base}/api/v1/forecasts/AAPL?strategy=direct'
  weather     curl '{base}/api/v1/forecasts/seattle-weather?horizon=10&strategy=recursive&level=0.9'
  retrain     curl -X POST -H "X-API-Key: {key}" -H 'Content-Type: application/json' \\
                   -d '{{"kind": "retrain", "series": ["IBM"]}}' {base}/api/v1/runs
""")
    return cmd_serve(args, settings)


# --- serve ----------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate the database, then serve the HTTP API with uvicorn (the app itself never migrates)."""
    import uvicorn

    from api.main import create_app
    from forecaster.db.session import upgrade

    if settings.production and settings.api_key is None:
        raise ForecasterError(
            "FORECASTER_PRODUCTION is set and FORECASTER_API_KEY is not: refusing to serve "
            "mutating routes without a key; set FORECASTER_API_KEY to a long random string"
        )
    upgrade(settings.database_url)
    if settings.api_key is None:
        print(
            "note: FORECASTER_API_KEY is not set: reads work, mutating routes (POST) answer 503",
            file=sys.stderr,
        )
    from forecaster.orchestration import project_server, schedule_worker

    # POST /runs executes flows in this process (unless FORECASTER_PREFECT_API_URL sends them
    # to deployments): against the project's Prefect server, started here when none is up.
    with project_server(settings.data_dir) as prefect_url, contextlib.ExitStack() as stack:
        if settings.prefect_api_url is None and settings.schedules and prefect_url:
            # the schedules run here too (production: the worker serves them)
            stack.enter_context(schedule_worker(settings.data_dir, _worker_env(settings)))
            schedules = "schedules served here (FORECASTER_SCHEDULES=false turns them off)"
        else:
            schedules = "schedules not served here"
        print(
            f"serving http://{args.host}:{args.port}/ (docs at /docs; Ctrl-C stops; "
            f"flows report to the Prefect server at {prefect_url}; {schedules})",
            file=sys.stderr,
        )
        # the app object, not the factory: it must use these settings (--database-url included)
        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            log_level=settings.log_level.lower(),
        )
    return 0


def _worker_env(settings: Settings) -> dict[str, str]:
    """What the schedule worker needs to run flows against this server's database."""
    env = {"FORECASTER_DATABASE_URL": settings.database_url}
    if settings.retrain_config is not None:
        env["FORECASTER_RETRAIN_CONFIG"] = str(settings.retrain_config)
    if settings.torch_threads:
        env["FORECASTER_TORCH_THREADS"] = str(settings.torch_threads)
    return env


# --- live accuracy and replay -------------------------------------------------------------


def cmd_accuracy(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.monitoring import accuracy

    sessions = _sessions(settings)
    with sessions.begin() as session:
        report = accuracy(
            session=session,
            series_key=args.key,
            strategy=args.strategy,
            since=None if args.since is None else datetime.combine(args.since, time()),
            steps=args.steps,
        )
    if args.json:
        print(json.dumps(report, default=_json_default, indent=2))
        return 0
    print(_accuracy_text(report))
    return 0


def _accuracy_text(report: dict[str, Any]) -> str:
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
                "live MAE": _fmt(f["live"]["mae"]),
                "backtest MAE": _fmt((f["backtest"] or {}).get("mae")),
                "live naive MAE": _fmt(f["live"]["naive_mae"]),
                "live MASE": _fmt(f["live"]["mase"]),
                "backtest MASE": _fmt((f["backtest"] or {}).get("mase")),
                "live coverage": _fmt(f["live"]["coverage"]),
            }
            for f in v["figures"]
        ]
        lines.append(_table_text(rows))
    lines.append("MASE here: MAE over the naive forecast's MAE on the same points (below 1: skill)")
    return "\n".join(lines)


def _table_text(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    out = ["  ".join(c.ljust(widths[c]) for c in columns)]
    out += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(out)


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.replay import history

    history(args.key)  # an unknown key is one line before anything starts
    _quiet_prefect(settings)
    from flows.retrain import retrain
    from forecaster.monitoring import RetrainPolicy
    from forecaster.replay import replay
    from forecaster.retrain_config import load_retrain_config

    config = load_retrain_config(args.config)
    policy = config.policy
    overrides = {k: v for k, v in (("window", args.window), ("min_origins", args.min_origins)) if v}
    if overrides:
        policy = RetrainPolicy.from_dict({**policy.__dict__, **overrides})
    sessions = _sessions(settings)

    def run_retrain(run_id: int) -> dict[str, Any]:
        out: dict[str, Any] = retrain(
            series=[args.key],
            database_url=settings.database_url,
            run_id=run_id,
            config_path=str(args.config) if args.config else None,
            quick=args.quick,
            threads=settings.torch_threads or None,
        )
        return out

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
        print(json.dumps(_replay_dict(report), default=_json_default, indent=2))
        return 0
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
            "live MAE": _fmt(r.mae),
            "naive MAE": _fmt(r.naive_mae),
            "MASE": _fmt(r.mase),
            "coverage": _fmt(r.coverage),
        }
        for r in report.weeks.itertuples()
    ]
    print(_table_text(rows))
    for strategy, t in report.totals.items():
        print(
            f"{strategy}: live MAE {_fmt(t['mae'])} vs naive {_fmt(t['naive_mae'])} "
            f"(MASE {_fmt(t['mase'])}), coverage {_fmt(t['coverage'])} over {t['origins']} origins"
        )
    return 0


def _replay_dict(report: Any) -> dict[str, Any]:
    return {
        "series": report.series,
        "schedule": report.schedule,
        "days": report.days,
        "retrains": report.retrains,
        "events": [e.__dict__ for e in report.events],
        "weeks": report.weeks.to_dict("records"),
        "totals": report.totals,
    }


# --- parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forecaster", description=__doc__)
    parser.add_argument("--database-url", help="overrides FORECASTER_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate the database to the newest schema").set_defaults(
        handler=cmd_db_upgrade
    )

    ing = sub.add_parser("ingest", help="fetch data into the database")
    ing_sub = ing.add_subparsers(dest="ingest_kind", required=True)
    ing_sub.add_parser("sample", help="the bundled real sample (stocks and weather)")
    y = ing_sub.add_parser("yahoo", help="daily prices of one or more tickers from Yahoo Finance")
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
    m.add_argument("--key", required=True, help="series key to store it under, e.g. boston-weather")
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

    mo = sub.add_parser("models", help="list model versions")
    mo.add_argument("key", nargs="?")
    mo.add_argument("--json", action="store_true")
    mo.set_defaults(handler=cmd_models)

    r = sub.add_parser("retrain", help="run the retrain flow (all series, or the keys given)")
    r.add_argument("keys", nargs="*", metavar="KEY")
    r.add_argument(
        "--config", help="retrain YAML (default: FORECASTER_RETRAIN_CONFIG or the bundled one)"
    )
    r.add_argument(
        "--quick", action="store_true", help="the config's quick settings (brief training)"
    )
    r.set_defaults(handler=cmd_retrain)

    ru = sub.add_parser("runs", help="recent flow runs")
    ru.add_argument("--json", action="store_true")
    ru.add_argument("--limit", type=int, default=20)
    ru.set_defaults(handler=cmd_runs)

    ac = sub.add_parser("accuracy", help="live accuracy of a series' served forecasts")
    ac.add_argument("key", metavar="KEY")
    ac.add_argument("--strategy", choices=["recursive", "direct"], default="recursive")
    ac.add_argument("--since", type=_date, help="only forecasts issued from this date (YYYY-MM-DD)")
    ac.add_argument("--steps", type=_positive, help="only steps 1..STEPS")
    ac.add_argument("--json", action="store_true")
    ac.set_defaults(handler=cmd_accuracy)

    rp = sub.add_parser(
        "replay",
        help="replay a bundled history day by day: ingest, forecast, scoring, retrain policy",
    )
    rp.add_argument("key", metavar="KEY", help="a bundled sample (AAPL, IBM, seattle-weather)")
    rp.add_argument("--start", type=_date, required=True, help="first replayed day (YYYY-MM-DD)")
    rp.add_argument("--end", type=_date, help="last replayed day (default: the history's end)")
    rp.add_argument(
        "--schedule",
        choices=["policy", "weekly", "both", "never"],
        default="policy",
        help="what starts retrains: the live-accuracy policy (default), a weekly schedule, both, "
        "or nothing",
    )
    rp.add_argument("--config", type=Path, help="retrain YAML (candidates and policy)")
    rp.add_argument("--quick", action="store_true", help="the config's quick settings")
    rp.add_argument("--window", type=_positive, help="override the policy's window")
    rp.add_argument("--min-origins", type=_positive, help="override the policy's min_origins")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(handler=cmd_replay)

    sv = sub.add_parser("serve", help="migrate the database and serve the HTTP API")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.set_defaults(handler=cmd_serve)

    d = sub.add_parser("demo", help="migrate, ingest the bundled sample, retrain, serve the API")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--retrain", action="store_true", help="retrain even where champions exist")
    d.add_argument("--no-serve", action="store_true", help="stop after training")
    d.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError: a setting is not valid
        print(f"error: {_settings_error(exc)}", file=sys.stderr)
        return 2
    if args.database_url:  # validated as the environment's would be
        try:
            settings = Settings.model_validate(
                {**settings.model_dump(), "database_url": args.database_url}
            )
        except ValueError as exc:
            message = _settings_error(exc).replace("FORECASTER_DATABASE_URL", "--database-url")
            print(f"error: {message}", file=sys.stderr)
            return 2
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in (
        "httpx",
        "httpcore",
        "prefect",
        "alembic",
    ):  # their INFO lines bury ours
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        return int(args.handler(args, settings))
    except ForecasterError as exc:
        print(f"error: {cli_message(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        reason = _database_error(exc, settings.database_url)
        if reason is None:
            raise
        print(f"error: {reason}", file=sys.stderr)
        return 2


def _settings_error(exc: ValueError) -> str:
    """One line per invalid setting, naming its environment variable and what is valid."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc).splitlines()[0]
    parts = []
    for e in errors():
        name = "_".join(str(p) for p in e.get("loc", ())).upper()
        message = str(e.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"FORECASTER_{name}: {message}" if name else message)
    return "; ".join(parts)


def _database_error(exc: Exception, url: str) -> str | None:
    """One line for a database the user named wrongly or that cannot be reached (else None)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        shown = url
    if isinstance(exc, ArgumentError):
        return (
            f"the database URL {shown!r} cannot be opened ({str(exc).splitlines()[0]}); give "
            "e.g. sqlite:///forecaster.db or postgresql+psycopg://user:password@host/db "
            "(--database-url or FORECASTER_DATABASE_URL)"
        )
    if isinstance(exc, OperationalError):
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"cannot open the database at {shown!r}: {reason}"
    return None


if __name__ == "__main__":
    sys.exit(main())
