"""Prometheus metrics: requests and latencies per route, forecast cache hits, last runs per series,
the compute pool for cache misses, the runs waiting or running, each champion's live accuracy.

Each app owns its registry (tests build many apps in one process); GET /metrics renders it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.pool import ComputePool
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from forecaster.db.forecast_log_reads import champion_summary
from forecaster.db.models import utcnow

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class LastRunCollector(Collector):
    """At scrape time: when each series was last ingested and retrained successfully."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "forecaster_last_run_timestamp_seconds",
            "Unix time the last completed run of this kind finished for this series",
            labels=["kind", "series"],
        )
        try:
            last = self._last_runs()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the DB is down
            last = {}
        for (kind, key), finished in sorted(last.items()):
            gauge.add_metric([kind, key], finished)
        yield gauge

    def _last_runs(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        with self.factory.begin() as session:
            every = [s.key for s in series_db.list_series(session=session)]
            for kind in ("ingest", "retrain"):
                # newest first, so the first sighting of a series is its last run
                for run in runs_db.list_runs(
                    session=session, kind=kind, status="completed", limit=500
                ):
                    if run.finished_at is None:
                        continue
                    if kind == "ingest" and isinstance(run.result.get("rows"), dict):
                        keys = list(run.result["rows"])
                    else:
                        keys = run.parameters.get("series") or every
                    stamp = run.finished_at.replace(tzinfo=UTC).timestamp()
                    for key in keys:
                        out.setdefault((kind, str(key)), stamp)
        return out


class LoadCollector(Collector):
    """At scrape time: the forecast compute pool (size, busy, refused) and active runs by status."""

    def __init__(self, factory: sessionmaker[Session], pool: ComputePool | None) -> None:
        self.factory = factory
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        if self.pool is not None:
            yield GaugeMetricFamily(
                "forecaster_compute_pool_size",
                "Forecasts not in the cache that may be computed at once",
                value=self.pool.size,
            )
            yield GaugeMetricFamily(
                "forecaster_compute_pool_busy",
                "Forecasts being computed now (cache misses)",
                value=self.pool.running,
            )
            yield CounterMetricFamily(
                "forecaster_compute_pool_refused",
                "Cache-missing forecast reads refused with 503 because every worker was busy",
                value=self.pool.refused,
            )
        active = GaugeMetricFamily(
            "forecaster_runs_active",
            "Runs waiting for a worker (pending) or running, by kind",
            labels=["kind", "status"],
        )
        try:
            with self.factory() as session:
                counts: dict[tuple[str, str], int] = {}
                for run in runs_db.all_active_runs(session=session):
                    counts[(run.kind, run.status)] = counts.get((run.kind, run.status), 0) + 1
        except Exception:  # noqa: BLE001 - a scrape must not fail because the DB is down
            counts = {}
        for kind in ("ingest", "retrain"):
            for status in ("pending", "running"):
                active.add_metric([kind, status], counts.get((kind, status), 0))
        yield active


class LiveAccuracyCollector(Collector):
    """At scrape time, per series and strategy, the champion's live accuracy (its served forecasts
    scored against what happened; forecaster.app.accuracy)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["series", "strategy"]
        mase = GaugeMetricFamily(
            "forecaster_live_mase_ratio",
            "Champion's live MAE over the naive forecast's MAE on the same points (<1: skill)",
            labels=labels,
        )
        coverage = GaugeMetricFamily(
            "forecaster_live_interval_coverage",
            "Share of the champion's scored points inside their served prediction interval",
            labels=labels,
        )
        age = GaugeMetricFamily(
            "forecaster_live_last_scored_age_seconds",
            "Seconds since the origin of the champion's newest scored forecast",
            labels=labels,
        )
        try:
            with self.factory.begin() as session:
                rows = champion_summary(session=session)
        except Exception:  # noqa: BLE001 - a scrape must not fail because the DB is down
            rows = []
        now = utcnow()
        for row in rows:
            key = [row["series"], row["strategy"]]
            if row["mase"] is not None:
                mase.add_metric(key, row["mase"])
            if row["coverage"] is not None:
                coverage.add_metric(key, row["coverage"])
            if row["last_origin"] is not None:
                age.add_metric(key, (now - row["last_origin"]).total_seconds())
        yield mase
        yield coverage
        yield age


class ApiMetrics:
    def __init__(self, factory: sessionmaker[Session], pool: ComputePool | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "forecaster_http_requests",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "forecaster_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache = Counter(
            "forecaster_forecast_cache",
            "Forecast reads answered from the cache (hit) or computed (miss)",
            ["result"],
            registry=self.registry,
        )
        self.registry.register(LastRunCollector(factory))
        self.registry.register(LoadCollector(factory, pool))
        self.registry.register(LiveAccuracyCollector(factory))

    def cache_result(self, hit: bool) -> None:
        self.cache.labels("hit" if hit else "miss").inc()


def route_label(scope: Scope) -> str:
    """The route template ("/api/v1/series/{series_key}"), never the raw path: bounded labels.

    Rebuilt from the path and its parameters (right to left, so a key that equals a literal
    segment, such as "series", is still placed right), which works however routers are nested.
    """
    if scope.get("route") is None:
        return "unmatched"
    path = str(scope.get("path", ""))
    segments = path.split("/")
    for name, value in reversed(list((scope.get("path_params") or {}).items())):
        text = str(value)
        if "/" in text and path.endswith(text):  # a mount's {path}: static files
            return f"{path[: len(path) - len(text)]}{{{name}}}"
        for i in range(len(segments) - 1, -1, -1):
            if segments[i] == text:
                segments[i] = f"{{{name}}}"
                break
    return "/".join(segments)


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): counts every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            label = route_label(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - start)
