"""Browser fixtures: the real app under uvicorn on a free 127.0.0.1 port, and Debian's chromium
driven by Playwright's sync API.

The app serves a SQLite file in a temp dir holding the bundled samples and a few TINY models
(trained once per module, seconds). Retrains started from the page run the real retrain flow
in-process against the session's ephemeral Prefect API, with a one-candidate config.

FORECASTER_TEST_BROWSER: "required" (CI: fail when chromium or Playwright is missing); unset:
skip with the reason.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from flows.leases import train_recorded
from forecaster.app.training import TrainRequest
from forecaster.config import Settings
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.session import make_session_factory, upgrade
from forecaster.sources.csv import load_sample
from forecaster.sources.samples import SAMPLES
from forecaster.spec import ModelSpec

CHROMIUM = os.environ.get("FORECASTER_CHROMIUM", "/usr/bin/chromium")
# STACK.md § Browser: headless, no GPU, and no network of its own (every host but 127.0.0.1
# resolves to nothing), so a request that tried to leave the machine could not succeed.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
BROWSER_MODE = os.environ.get("FORECASTER_TEST_BROWSER", "auto")
API_KEY = "test-key"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EXPECTED_CONSOLE = "Failed to load resource: the server responded with a status of 4"
SHORT_SERIES = "IBM-short"  # too few rows to train on: its retrain fails, with a reason

RETRAIN_YAML = """\
metric: mase
backtest_origins: 10
defaults: {lookback: 28, horizon: 7, hidden_size: 8, num_layers: 1, epochs: 2,
           batch_size: 64, patience: 2, time_budget_s: 20}
candidates:
  - {architecture: gru, strategy: direct}
"""


def _unavailable(reason: str) -> None:
    if BROWSER_MODE == "required":
        pytest.fail(f"FORECASTER_TEST_BROWSER=required but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def _chromium_present() -> None:
    """Checked before the (slower) app set-up, so a missing browser skips at once."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"chromium not found at {CHROMIUM}: apt-get install -y chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed: pip install -e '.[dev]'")


def tiny_spec(architecture: str, strategy: str, target: str) -> ModelSpec:
    return ModelSpec(
        architecture=architecture,
        strategy=strategy,
        lookback=28,
        horizon=7,
        targets=(target,),
        hidden_size=8,
        num_layers=1,
        epochs=2,
        batch_size=64,
        stride=2,  # half the training windows: these models only need to exist
    )


def _store_samples(factory: sessionmaker[Session]) -> None:
    """The bundled samples, whole, as `forecaster ingest sample` registers them; plus a stub."""
    with factory.begin() as session:
        for sample in SAMPLES:
            series = series_db.register_series(
                session=session,
                key=sample.key,
                source="csv",
                params={"sample": sample.filename},
                frequency=sample.frequency,
            )
            observations_db.upsert_observations(
                session=session, series_id=series.id, frame=load_sample(sample.key)
            )
        short = series_db.register_series(
            session=session,
            key=SHORT_SERIES,
            source="csv",
            params={"sample": "IBM.csv"},
            frequency="B",
        )
        observations_db.upsert_observations(
            session=session, series_id=short.id, frame=load_sample("IBM").iloc[:20]
        )


def _train_tiny(factory: sessionmaker[Session]) -> None:
    """AAPL: GRU champions for both strategies and an archived LSTM (promotable); Seattle: a
    GRU recursive and a seq2seq-attention direct champion (the heatmap). IBM: nothing yet.
    Promoted explicitly: these 2-epoch models need not beat the naive baselines to be shown."""
    jobs = [
        ("AAPL", tiny_spec("lstm", "direct", "close"), True),  # champion, then archived
        ("AAPL", tiny_spec("gru", "direct", "close"), True),
        ("AAPL", tiny_spec("gru", "recursive", "close"), True),
        ("seattle-weather", tiny_spec("gru", "recursive", "tmax"), True),
        ("seattle-weather", tiny_spec("seq2seq_attention", "direct", "tmax"), True),
    ]
    for key, spec, promote in jobs:
        request = TrainRequest(key, spec, promote=promote, origins=20)
        train_recorded(factory, request, threads=1)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class LiveApp:
    base_url: str
    factory: sessionmaker[Session]
    settings: Settings


@pytest.fixture(scope="module")
def live_app(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveApp]:
    """The real app, served by uvicorn in a background thread (so in-process retrain runs use
    this session's Prefect API), on a migrated SQLite file with data and tiny models."""
    tmp = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{tmp / 'dashboard.db'}"
    upgrade(url)
    factory = make_session_factory(url)
    _store_samples(factory)
    with ThreadPoolExecutor(1) as pool:
        training = pool.submit(_train_tiny, factory)
        # the ephemeral Prefect API starts (a subprocess, ~10 s) while the models train
        request.getfixturevalue("prefect_harness")
        training.result()
    config = tmp / "retrain.yaml"
    config.write_text(RETRAIN_YAML)
    settings = Settings(
        database_url=url,
        api_key=SecretStr(API_KEY),
        retrain_config=config,
        torch_threads=1,
        data_dir=tmp,
    )
    app = create_app(settings)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start the app within 30 s (see the log above)")
        time.sleep(0.05)
    yield LiveApp(f"http://127.0.0.1:{port}", factory, settings)
    server.should_exit = True
    thread.join(15)
    sock.close()
    factory.kw["bind"].dispose()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


def launch(playwright: Any, profile: Path) -> Any:
    """Debian's chromium with a real (on-disk) profile, as a user's browser keeps one."""
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1440, "height": 1000},
    )


@pytest.fixture(scope="module")
def context(playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One browser profile for the module: its HTTP and compiled-code caches keep plotly's
    bundle warm, as for a returning user. Each test still gets its own tab, and with it its own
    sessionStorage (where the page keeps the API key)."""
    ctx = launch(playwright, tmp_path_factory.mktemp("chromium-profile"))
    yield ctx
    ctx.close()


@dataclass
class Dash:
    """A page on the live app, with every request and every script error it produced."""

    page: Any
    base_url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, series: str | None = None) -> None:
        """Load the dashboard (on `series`) and wait until its chart is drawn."""
        self.page.goto(self.base_url + (f"/?series={series}" if series else "/"))
        if series is not None:
            self.wait_for_chart(series)

    def open_url(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def wait_for_chart(self, series: str, timeout: float = 15_000) -> None:
        self.page.wait_for_function(
            """key => {
                const c = document.getElementById('chart');
                return c && c.dataset.series === key && Array.isArray(c.data);
            }""",
            arg=series,
            timeout=timeout,
        )
        self.wait_idle()

    def wait_idle(self) -> None:
        """Wait until every load the page started is drawn (window.dashboard.busy == 0)."""
        self.page.wait_for_function("() => window.dashboard && window.dashboard.busy === 0")

    def traces(self, element: str = "chart") -> list[dict[str, Any]]:
        """The plot's data as Plotly holds it (the DOM element's `.data`), not its pixels."""
        traces: list[dict[str, Any]] = self.page.evaluate(
            """id => (document.getElementById(id).data || []).map(t => ({
                uid: t.uid, name: t.name, type: t.type, x: t.x, y: t.y, z: t.z,
                meta: t.meta === undefined ? null : t.meta,
            }))""",
            element,
        )
        return traces

    def trace(self, uid: str, element: str = "chart") -> dict[str, Any]:
        found = [t for t in self.traces(element) if t["uid"] == uid]
        assert found, f"no trace {uid!r}; the chart has {[t['uid'] for t in self.traces(element)]}"
        return found[0]

    def on_console(self, message: Any) -> None:
        # The browser logs every 4xx answer; the page expects some (409: no champion yet,
        # 403: wrong key) and shows them itself. Anything else logged as an error is a bug.
        if message.type == "error" and not message.text.startswith(EXPECTED_CONSOLE):
            self.errors.append(f"console error: {message.text}")

    def enter_key(self, key: str) -> None:
        self.page.fill("#key-input", key)
        self.page.click("#key-form button[type=submit]")

    def foreign_requests(self) -> list[str]:
        """Requests that went anywhere but the app (data: URLs never leave the page)."""
        own = urlsplit(self.base_url)
        return [
            url
            for url in self.requests
            if not url.startswith(("data:", "blob:"))
            and (urlsplit(url).scheme, urlsplit(url).netloc) != (own.scheme, own.netloc)
        ]


def new_dash(context: Any, base_url: str) -> Dash:
    """A new tab recording its requests and script errors."""
    page = context.new_page()
    page.set_default_timeout(15_000)
    d = Dash(page, base_url)
    page.on("request", lambda request: d.requests.append(request.url))
    page.on("pageerror", lambda exc: d.errors.append(f"page error: {exc}"))
    page.on("console", d.on_console)
    return d


@pytest.fixture
def dash(context: Any, live_app: LiveApp) -> Iterator[Dash]:
    d = new_dash(context, live_app.base_url)
    yield d
    d.page.close()
    # every test, not only the one about it: nothing left the machine, no script broke
    assert d.foreign_requests() == []
    assert d.errors == []


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
