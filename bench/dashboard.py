"""Dashboard first paint (issue 6): the real app under uvicorn on 127.0.0.1, Debian's chromium
driven by Playwright, the bundled AAPL sample (8 years of trading days) with tiny champions.

    .venv/bin/python bench/dashboard.py                 # 5 rounds, 5-year and 2-year windows
    .venv/bin/python bench/dashboard.py --rounds 10

Each round starts chromium on a new, empty profile (nothing cached, nothing compiled: a first
visit), opens /?series=AAPL&window=... and then opens it twice more in the same profile (a
returning visit: chromium reuses its cached and compiled plotly). From the page's own clock
(performance.now(), from navigation start) it reads:

- first paint: the history and forecast first on screen (the static SVG preview, or the
  plotly chart if that came first);
- interactive: plotly's chart drawn (zoom, hover);
- plotly ready: the bundle downloaded, compiled and run.

The server is warmed by one visit first, so the figures are the browser's and the API's steady
cost, not the first model load from the database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import uvicorn  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from api.main import create_app  # noqa: E402
from forecaster.config import Settings  # noqa: E402
from forecaster.db.session import make_session_factory, upgrade  # noqa: E402
from tests.browser.conftest import (  # noqa: E402
    _free_socket,
    _store_samples,
    _train_tiny,
    launch,
)

SERIES = "AAPL"
READ = """() => ({paint: window.dashboard.firstPaintAt, chart: window.dashboard.firstChartAt,
                  plotly: window.dashboard.plotlyAt, points: (document.getElementById('chart').data
                  || []).filter(t => t.uid === 'history').map(t => t.x.length)[0] || 0})"""


def serve(tmp: Path) -> tuple[str, uvicorn.Server]:
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    factory = make_session_factory(url)
    _store_samples(factory)
    _train_tiny(factory)
    settings = Settings(database_url=url, api_key=SecretStr("bench"), torch_threads=1, data_dir=tmp)
    sock = _free_socket()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    )
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


def visit(context: Any, url: str) -> dict[str, float]:
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_function(
            "() => window.dashboard && window.dashboard.firstChartAt !== null"
            " && window.dashboard.busy === 0",
            timeout=30_000,
        )
        figures: dict[str, float] = page.evaluate(READ)
        return figures
    finally:
        page.close()


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<12} median {statistics.median(values):6.0f} ms   "
        f"min {min(values):6.0f}   max {max(values):6.0f}   (n={len(values)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--windows", default="1827,731", help="history windows in days (the select's)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        t0 = time.perf_counter()
        base, server = serve(tmp)
        print(f"app on {base} (data + tiny models in {time.perf_counter() - t0:.1f} s)")
        print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        with sync_playwright() as pw:
            warm = launch(pw, tmp / "warmup")
            visit(warm, f"{base}/?series={SERIES}")  # the server's first model load
            warm.close()
            for window in args.windows.split(","):
                url = f"{base}/?series={SERIES}&window={window}"
                cold: list[dict[str, float]] = []
                back: list[dict[str, float]] = []
                for r in range(args.rounds):
                    context = launch(pw, tmp / f"profile-{window}-{r}")
                    try:
                        cold.append(visit(context, url))
                        visit(context, url)
                        back.append(visit(context, url))
                    finally:
                        context.close()
                points = cold[0]["points"]
                print(f"\n{SERIES}, history window {window} days ({points} points drawn):")
                for label, rows in (("first visit", cold), ("returning", back)):
                    print(f"  {label}")
                    print("    " + summary("first paint", [r["paint"] for r in rows]))
                    print("    " + summary("interactive", [r["chart"] for r in rows]))
                    print("    " + summary("plotly ready", [r["plotly"] for r in rows]))
        server.should_exit = True
        print(f"\nload at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
