"""Forecast-read throughput and latency of the HTTP API beside GET /health, on this machine.

    .venv/bin/python bench/api.py [--duration 20] [--concurrency 32] [--client raw|httpx]

Builds a SQLite database in a temp dir with the bundled IBM prices and a small GRU champion
(trained here, ~10 s), starts the app with uvicorn on a free loopback port in a subprocess, warms
it, then drives GET /health and GET /api/v1/forecasts/IBM from this process, one after the other,
each for --duration seconds with --concurrency requests in flight (keep-alive connections).

Targets (issue 5): forecast reads at >= 70 % of /health's throughput and p99 < 50 ms.

The default client is a minimal asyncio HTTP/1.1 client (a few microseconds per request), so the
figures measure the server rather than the client: on a 2-core machine the load generator shares
the cores with the server, and httpx's own per-request cost would be most of what is measured.
`--client httpx` runs the same load through httpx.AsyncClient for comparison.

`--abuse N` adds N clients that, while the forecast route is driven, ask for forecasts that are
never cached (horizon 1000 at random levels, ~1 s of model each): cached reads must keep their
latency, and the misses beyond the compute pool (FORECASTER_FORECAST_WORKERS) answer 503.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 0.70
TARGET_P99_MS = 50.0
SERIES = "IBM"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_database(url: str) -> int:
    """IBM's bundled daily prices and a small GRU (recursive) champion; returns its version id."""
    from flows.leases import train_recorded
    from forecaster.app.training import TrainRequest
    from forecaster.db import observations as observations_db
    from forecaster.db import series as series_db
    from forecaster.db.session import make_session_factory, upgrade
    from forecaster.sources.csv import load_sample
    from forecaster.spec import ModelSpec

    upgrade(url)
    sessions = make_session_factory(url)
    frame = load_sample(SERIES)[["close", "volume"]]
    with sessions.begin() as session:
        series = series_db.register_series(
            session=session, key=SERIES, source="csv", params={"sample": "IBM.csv"}, frequency="B"
        )
        observations_db.upsert_observations(session=session, series_id=series.id, frame=frame)
    spec = ModelSpec(
        architecture="gru",
        strategy="recursive",
        lookback=30,
        horizon=10,
        targets=("close",),
        hidden_size=16,
        num_layers=1,
        epochs=3,
        transform="log_return",
        time_budget_s=30,
    )
    decision = train_recorded(sessions, TrainRequest(SERIES, spec, origins=20), threads=1)
    sessions.kw["bind"].dispose()
    return decision.version_id


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server used during the run

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """Latency percentile in ms."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.rps:>9.0f} req/s   p50 {self.pct(50):6.1f} ms   "
            f"p95 {self.pct(95):6.1f} ms   p99 {self.pct(99):6.1f} ms   "
            f"server CPU {1000 * self.server_cpu / max(len(self.latencies), 1):.2f} ms/req   "
            f"({len(self.latencies)} requests, {self.errors} errors)"
        )


_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


async def _raw_worker(port: int, path: str, stop_at: float, out: Result) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _LENGTH.search(head)
            await reader.readexactly(int(match.group(1)) if match else 0)
            out.latencies.append(time.perf_counter() - start)
            if head[9:12] != b"200":
                out.errors += 1
    finally:
        writer.close()


async def _raw_abuser(port: int, stop_at: float, out: Result, statuses: dict[int, int]) -> None:
    """Cache-missing reads: a random level each time, the longest recursive horizon."""
    import random

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random(port)
    try:
        while time.perf_counter() < stop_at:
            level = rng.uniform(0.05, 0.95)
            path = f"/api/v1/forecasts/{SERIES}?horizon=1000&level={level:.6f}"
            request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _LENGTH.search(head)
            await reader.readexactly(int(match.group(1)) if match else 0)
            out.latencies.append(time.perf_counter() - start)
            status = int(head[9:12])
            statuses[status] = statuses.get(status, 0) + 1
            if status == 503:
                await asyncio.sleep(0.05)  # a polite client would wait Retry-After; this one not
    finally:
        writer.close()


async def _httpx_worker(client: object, url: str, stop_at: float, out: Result) -> None:
    while time.perf_counter() < stop_at:
        start = time.perf_counter()
        response = await client.get(url)  # type: ignore[attr-defined]
        out.latencies.append(time.perf_counter() - start)
        if response.status_code != 200:
            out.errors += 1


async def drive(
    name: str,
    port: int,
    path: str,
    *,
    seconds: float,
    concurrency: int,
    client: str,
    abusers: int = 0,
    abuse: tuple[Result, dict[int, int]] | None = None,
) -> Result:
    out = Result(name)
    start = time.perf_counter()
    stop_at = start + seconds
    background = [
        asyncio.ensure_future(_raw_abuser(port, stop_at, *abuse))
        for _ in range(abusers if abuse is not None else 0)
    ]
    if client == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            url = f"http://127.0.0.1:{port}{path}"
            await asyncio.gather(
                *(_httpx_worker(http, url, stop_at, out) for _ in range(concurrency))
            )
    else:
        await asyncio.gather(*(_raw_worker(port, path, stop_at, out) for _ in range(concurrency)))
    out.seconds = time.perf_counter() - start
    await asyncio.gather(*background)
    return out


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not become healthy within {timeout:.0f} s")


def start_api(url: str) -> tuple[int, subprocess.Popen[bytes]]:
    """The API over database `url` in its own process (uvicorn, no access log) on a free
    port, once healthy: (port, process). The caller terminates it."""
    port = free_port()
    env = {
        **os.environ,
        "FORECASTER_DATABASE_URL": url,
        "FORECASTER_API_KEY": "bench",
        "FORECASTER_LOG_LEVEL": "WARNING",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--host",
         "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    try:
        wait_healthy(port, server)
    except BaseException:
        server.terminate()
        raise
    return port, server


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per route")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per route, not counted")
    parser.add_argument(
        "--abuse", type=int, default=0, help="clients sending cache-missing forecast reads"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="forecaster-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    t0 = time.perf_counter()
    version = build_database(url)
    print(
        f"database {url}: {SERIES} with champion version {version} ({time.perf_counter() - t0:.1f} s)"
    )

    load = os.getloadavg()
    port, server = start_api(url)
    try:
        forecast_path = f"/api/v1/forecasts/{SERIES}"
        routes = {"GET /health": "/health", f"GET {forecast_path}": forecast_path}
        results = {}
        abuse: tuple[Result, dict[int, int]] = (Result("cache-missing reads"), {})
        for name, path in routes.items():
            asyncio.run(
                drive(
                    name,
                    port,
                    path,
                    seconds=args.warmup,
                    concurrency=args.concurrency,
                    client=args.client,
                )
            )
            cpu = cpu_seconds(server.pid)
            results[name] = asyncio.run(
                drive(
                    name,
                    port,
                    path,
                    seconds=args.duration,
                    concurrency=args.concurrency,
                    client=args.client,
                    abusers=args.abuse if path == forecast_path else 0,
                    abuse=abuse,
                )
            )
            results[name].server_cpu = cpu_seconds(server.pid) - cpu
    finally:
        server.terminate()
        server.wait(timeout=30)

    health, forecast = results.values()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"\nuvicorn, 1 process; {args.client} client, concurrency {args.concurrency}, "
        f"{args.duration:.0f} s per route, {cores} cores shared by server and client"
    )
    print(f"load average before the run: {load[0]:.2f} (other processes share the cores)")
    print(health.line())
    print(forecast.line())
    if args.abuse:
        misses, statuses = abuse
        print(
            f"{args.abuse} clients sending cache-missing reads meanwhile (horizon 1000, random "
            f"levels): {dict(sorted(statuses.items()))} by status, p50 {misses.pct(50):.0f} ms"
        )
    ratio = forecast.rps / health.rps if health.rps else float("nan")
    ok_ratio = ratio >= TARGET_RATIO
    ok_p99 = forecast.pct(99) < TARGET_P99_MS
    print(
        f"\nforecast / health throughput: {ratio:.2f} (target >= {TARGET_RATIO:.2f}): "
        f"{'met' if ok_ratio else 'NOT met'}"
    )
    print(
        f"forecast p99: {forecast.pct(99):.1f} ms (target < {TARGET_P99_MS:.0f} ms): "
        f"{'met' if ok_p99 else 'NOT met'}"
    )
    errors = health.errors + forecast.errors
    if errors:
        print(f"{errors} requests did not answer 200")
    return 0 if ok_ratio and ok_p99 and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
