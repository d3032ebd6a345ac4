"""Forecast flow: precompute each champion's forecast into the `forecast` table (after an ingest
or a promotion), so reads are instant even right after a restart; each one is logged to be scored
live, and the retrain policy then looks at each series' live accuracy and starts the retrains its
evidence calls for (forecaster.app.accuracy), recording why on the run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import State, flow, task
from prefect.logging import get_run_logger

from flows.common import HOOKS, Cancelled, close_run, guarded, open_run, session_factory
from forecaster.app.accuracy import evaluate_policy
from forecaster.app.runs import LeasePolicy
from forecaster.app.training import precompute_forecasts
from forecaster.config import Settings, get_settings
from forecaster.db import forecast_log
from forecaster.db import series as series_db
from forecaster.errors import Conflict, TooBusy
from forecaster.policy import RetrainPolicy
from forecaster.retrain_config import load_retrain_config


@dataclass(frozen=True)
class PolicyRetrain:
    """A retrain the policy called for: its run, or why none started (`skipped`)."""

    series: str
    run_id: int | None  # None: not started
    reason: str  # the evidence
    skipped: str | None = None  # why not: a run of the series is already active

    def to_json(self) -> dict[str, str | int | None]:
        row: dict[str, str | int | None] = {
            "series": self.series,
            "run_id": self.run_id,
            "reason": self.reason,
        }
        if self.skipped is not None:
            row["skipped"] = self.skipped
        return row


@dataclass(frozen=True)
class ForecastResult:
    """What a forecast run did: each series' stored forecasts, the log points purged, and the
    retrains the policy called for (None: the policy is off)."""

    run_id: int
    forecasts: Mapping[str, Mapping[str, int]]  # series key -> strategy -> version forecast
    log_purged: int
    policy_retrains: tuple[PolicyRetrain, ...] | None = None

    def record(self) -> dict[str, Any]:
        """The run's result as stored on its row (JSON)."""
        out: dict[str, Any] = {
            "forecasts": {key: dict(f) for key, f in self.forecasts.items()},
            "log_purged": self.log_purged,
        }
        if self.policy_retrains is not None:
            out["policy_retrains"] = [p.to_json() for p in self.policy_retrains]
        return out

    def to_json(self) -> dict[str, Any]:
        """The flow's result as JSON: the run's id and its stored result."""
        return {"run_id": self.run_id, **self.record()}


@task
def apply_policy(
    database_url: str,
    keys: list[str],
    policy: RetrainPolicy,
    *,
    settings: Settings,
    config_path: str | None = None,
    wait: bool = False,
) -> list[PolicyRetrain]:
    """Start a retrain of each series whose live evidence calls for one (one per series at a time:
    the claim refuses a second); returns what was started or why not."""
    from flows.dispatch import Dispatcher

    logger = get_run_logger()
    factory = session_factory(database_url)
    with factory.begin() as session:
        verdicts = [
            v for k in keys for v in evaluate_policy(session=session, series_key=k, policy=policy)
        ]
    dispatcher = Dispatcher.from_settings(
        settings,
        factory=factory,
        database_url=database_url,
        retrain_config=Path(config_path) if config_path else None,
    )
    started: list[PolicyRetrain] = []
    for key in dict.fromkeys(v.series for v in verdicts if v.retrain):
        reason = " | ".join(v.reason for v in verdicts if v.series == key and v.retrain)
        try:
            run_id = dispatcher.submit(
                kind="retrain", series=[key], trigger="policy", reason=reason
            )
        except (Conflict, TooBusy) as exc:  # one already running: it will act on the same data
            started.append(PolicyRetrain(key, None, reason, skipped=str(exc)))
            continue
        logger.info("%s: retrain run %d started by the policy: %s", key, run_id, reason)
        started.append(PolicyRetrain(key, run_id, reason))
    if wait and dispatcher.mode == "thread":  # in-process: this process must outlive them
        dispatcher.join(timeout=24 * 3600)
    return started


@flow(name="forecast", **HOOKS)
def forecast(
    series: list[str] | None = None,
    database_url: str | None = None,
    run_id: int | None = None,
    policy: bool = True,
    config_path: str | None = None,
) -> ForecastResult | State[Cancelled]:
    """Precompute (and log) each champion's forecast, then apply the retrain policy of the
    retrain config (`config_path`, else FORECASTER_RETRAIN_CONFIG, else the bundled one)."""
    settings = get_settings()  # once per flow run; what runs below receives plain values
    url = database_url or settings.database_url
    factory = session_factory(url)
    lease = LeasePolicy.from_settings(settings)
    run_id = open_run(factory, "forecast", run_id, {"series": series or []}, lease)

    def body() -> ForecastResult:
        with factory.begin() as session:
            keys = series or [s.key for s in series_db.list_series(session=session)]
        done = {}
        for key in keys:
            with factory.begin() as session:
                done[key] = precompute_forecasts(session=session, series_key=key)
        with factory.begin() as session:
            purged = forecast_log.purge(session=session, keep_days=settings.forecast_log_days)
        retrains = None
        if policy:
            path = config_path or settings.retrain_config
            rule = load_retrain_config(Path(path) if path else None).policy
            if rule.enabled:
                retrains = apply_policy(
                    url,
                    keys,
                    rule,
                    settings=settings,
                    config_path=str(path) if path else None,
                )
        result = ForecastResult(run_id, done, purged, None if retrains is None else tuple(retrains))
        close_run(factory, run_id, ok=True, result=result.record(), error=None)
        return result

    return guarded(factory, run_id, body)
