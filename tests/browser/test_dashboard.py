"""The dashboard in a real headless chromium against the real app: series, chart, errors,
models, attention, retrain with the API key, empty and error states, nothing loaded from outside.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from forecaster.db import observations as observations_db
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from tests.browser.conftest import (
    API_KEY,
    SHORT_SERIES,
    Dash,
    LiveApp,
    launch,
    new_dash,
)

pytestmark = pytest.mark.browser

FIRST_PAINT_BUDGET_MS = 1000  # the target for AAPL (8 years daily; 2 shown) on this machine


def test_page_lists_stocks_and_weather_with_source_and_last_date(dash: Dash) -> None:
    dash.open()
    dash.page.wait_for_selector("#series-list button[data-key]")
    items = dash.page.eval_on_selector_all(
        "#series-list button",
        "bs => bs.map(b => ({key: b.dataset.key, kind: b.querySelector('.kind').textContent,"
        " sub: b.querySelector('.sub').textContent}))",
    )
    by_key = {i["key"]: i for i in items}
    assert set(by_key) == {"AAPL", "IBM", "seattle-weather", SHORT_SERIES}
    assert by_key["AAPL"]["kind"] == "stock" and by_key["seattle-weather"]["kind"] == "weather"
    assert by_key["AAPL"]["sub"] == "csv · B · last 2013-03-01"
    assert by_key["seattle-weather"]["sub"] == "csv · D · last 2015-12-31"
    # the first series opens by itself; picking another one draws its chart
    dash.page.click('#series-list button[data-key="seattle-weather"]')
    dash.wait_for_chart("seattle-weather")
    assert "series=seattle-weather" in dash.page.url
    assert dash.page.text_content("#series-title") == "seattle-weather"


def test_first_paint_of_aapl_and_the_screenshot(
    playwright: Any, live_app: LiveApp, artifacts: Path, tmp_path: Path
) -> None:
    """Navigation to drawn chart (history + forecast + band), in a real browser profile: the
    first visit compiles plotly's 1.5 MB cartesian bundle; from the third, chromium reuses its compiled
    code, as for a returning user. Then picking another series on the loaded page."""
    context = launch(playwright, tmp_path / "profile")  # a new profile: nothing cached yet
    try:
        paints, charts, plotly = [], [], []
        for _ in range(3):
            d = new_dash(context, live_app.base_url)
            d.open("AAPL")
            paints.append(d.page.evaluate("() => window.dashboard.firstPaintAt"))
            charts.append(d.page.evaluate("() => window.dashboard.firstChartAt"))
            plotly.append(d.page.evaluate("() => window.dashboard.plotlyAt"))
            assert d.foreign_requests() == [] and d.errors == []
            d.page.close()
        d = new_dash(context, live_app.base_url)
        d.open("seattle-weather")
        started = d.page.evaluate("() => performance.now()")
        d.page.click('#series-list button[data-key="AAPL"]')
        d.wait_for_chart("AAPL")
        switch = d.page.evaluate("() => performance.now()") - started
        figures = {
            "series": "AAPL",
            "first_visit_ms": paints[0],
            "returning_visit_ms": paints[-1],
            "first_paint_ms": paints,
            "interactive_chart_ms": charts,
            "plotly_ready_ms": plotly,
            "pick_series_on_loaded_page_ms": switch,
        }
        (artifacts / "first-paint.json").write_text(json.dumps(figures, indent=2))
        # Timings are figures to read (the target is 1 s), not assertions: a loaded CI
        # machine must not fail a behaviour test. Cold, most of it is compiling plotly.
        print(f"first paint (target {FIRST_PAINT_BUDGET_MS} ms): {figures}")  # noqa: T201

        d.page.check("#overlay")
        d.page.wait_for_function(
            "() => document.getElementById('chart').data.some(t => t.uid === 'naive')"
        )
        d.page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
        assert d.foreign_requests() == [] and d.errors == []
    finally:
        context.close()


def test_a_static_preview_shows_the_data_while_plotly_loads(dash: Dash) -> None:
    """Plotly held back: the history, forecast, band and origin are on screen as SVG at once;
    when plotly arrives, its interactive chart replaces the preview."""
    release: list[Any] = []
    dash.page.route("**/vendor/plotly.min.js*", lambda route: release.append(route))
    dash.page.goto(dash.base_url + "/?series=AAPL", wait_until="commit")
    dash.page.wait_for_selector("#chart-preview:not([hidden]) svg")
    drawn = dash.page.eval_on_selector_all(
        "#chart-preview [data-uid]",
        "els => els.map(e => [e.dataset.uid, (e.getAttribute('d') || e.getAttribute('points') || 'x').length])",
    )
    by_uid = dict(drawn)
    assert {"history", "forecast", "band", "origin"} <= set(by_uid)
    # real paths, not empty ones ("recent" shows 4 forecast lengths of history: 28 rows here)
    assert by_uid["history"] > 250 and by_uid["forecast"] > 50
    assert dash.page.evaluate("() => window.dashboard.firstChartAt") is None
    assert dash.page.evaluate("() => window.dashboard.firstPaintAt") is not None
    assert dash.page.text_content("#series-title") == "AAPL"  # the rest of the view is there
    assert dash.page.locator("#models-table tr").count() > 1
    for _ in range(200):  # the page asks for plotly once the preview is on screen
        if release:
            break
        dash.page.wait_for_timeout(50)
    assert release, "the page never asked for plotly after painting the preview"
    release[0].continue_()
    dash.wait_for_chart("AAPL")
    assert dash.page.is_hidden("#chart-preview")
    assert dash.page.locator("#chart-preview svg").count() == 0
    assert {"history", "forecast"} <= {t["uid"] for t in dash.traces()}


def test_the_url_opens_a_series_on_a_history_window(dash: Dash) -> None:
    dash.open_url("/?series=AAPL&window=1827")
    dash.wait_for_chart("AAPL")
    assert dash.page.input_value("#window") == "1827"
    assert 1250 <= len(dash.trace("history")["x"]) <= 1270  # five years of trading days
    dash.page.select_option("#window", "92")
    dash.page.wait_for_function("() => location.search.includes('window=92')")
    dash.wait_idle()
    assert len(dash.trace("history")["x"]) < 70
    dash.open_url("/?series=AAPL&window=nonsense")  # not an offered window: the default
    dash.wait_for_chart("AAPL")
    assert dash.page.input_value("#window") == "recent"


def test_chart_shows_history_forecast_band_and_origin(dash: Dash) -> None:
    dash.open("AAPL")
    history = dash.trace("history")
    # "recent" shows a few forecast lengths and loads a year of business days, not all 8 years
    assert 240 <= len(history["x"]) <= 265
    assert history["x"][-1].startswith("2013-03-01")
    forecast = dash.trace("forecast")
    assert len(forecast["x"]) == 7 and forecast["x"][0] > history["x"][-1]
    assert all(isinstance(v, float | int) for v in forecast["y"])
    upper, lower = dash.trace("forecast-upper"), dash.trace("forecast-lower")
    assert all(lo <= up for lo, up in zip(lower["y"], upper["y"], strict=True))
    shapes = dash.page.evaluate("() => document.getElementById('chart').layout.shapes")
    assert shapes[0]["x0"].startswith("2013-03-01")  # the forecast origin: the data end


def test_switching_strategy_changes_the_forecast(dash: Dash) -> None:
    dash.open("AAPL")
    recursive = dash.trace("forecast")
    assert recursive["meta"]["strategy"] == "recursive"
    dash.page.check('input[name="strategy"][value="direct"]')
    dash.page.wait_for_function(
        "() => document.getElementById('chart').data"
        ".some(t => t.uid === 'forecast' && t.meta.strategy === 'direct')"
    )
    direct = dash.trace("forecast")
    assert direct["meta"]["model"] != recursive["meta"]["model"]
    assert direct["y"] != recursive["y"]
    assert "direct forecast" in direct["name"]


def test_overlay_adds_the_other_strategy_and_the_flat_naive_baseline(dash: Dash) -> None:
    dash.open("AAPL")
    dash.page.check("#overlay")
    dash.page.wait_for_function(
        "() => document.getElementById('chart').data.some(t => t.uid === 'naive')"
    )
    uids = [t["uid"] for t in dash.traces()]
    assert "overlay-direct" in uids and "overlay-recursive" not in uids  # recursive is shown
    history, naive = dash.trace("history"), dash.trace("naive")
    last = [y for y in history["y"] if y is not None][-1]
    assert set(naive["y"]) == {last} and len(naive["x"]) == 1 + 7
    assert naive["name"].startswith("naive: last value carried flat")
    dash.page.uncheck("#overlay")
    dash.page.wait_for_function(
        "() => !document.getElementById('chart').data.some(t => t.uid === 'naive')"
    )


def test_error_panel_lists_every_step_beside_the_naive_baselines(dash: Dash) -> None:
    dash.open("AAPL")
    heads = dash.page.eval_on_selector_all(
        "#errors-table thead tr:first-child th", "ths => ths.map(t => t.textContent)"
    )
    assert heads == ["step", "MAE", "RMSE", "MAPE %", "MASE"]
    steps = dash.page.eval_on_selector_all(
        "#errors-table tbody tr td:first-child", "tds => tds.map(t => t.textContent)"
    )
    assert steps == ["1", "2", "3", "4", "5", "6", "7", "all"]
    cells = dash.page.eval_on_selector_all(
        "#errors-table tbody tr:first-child td", "tds => tds.map(t => t.textContent)"
    )
    assert len(cells) == 1 + 4 * 3 and all(c != "—" for c in cells[1:3])
    uids = [t["uid"] for t in dash.traces("errors-chart")]
    assert uids == ["error-model", "error-naive", "error-seasonal_naive"]
    assert dash.trace("error-model", "errors-chart")["x"] == [1, 2, 3, 4, 5, 6, 7]
    assert "naive forecast" in (dash.page.text_content("#skill") or "")
    dash.page.select_option("#error-metric", "mase")
    dash.page.wait_for_function(
        "() => document.getElementById('errors-chart').layout.yaxis.title.text === 'MASE'"
    )


def test_weather_variables_and_the_attention_heatmap(dash: Dash, artifacts: Path) -> None:
    dash.open("seattle-weather")
    options = dash.page.eval_on_selector_all("#variable option", "os => os.map(o => o.value)")
    assert {"tmax", "tmin", "prcp", "wspd"} <= set(options)
    assert dash.trace("history")["name"] == "tmax observed"
    dash.page.select_option("#variable", "prcp")
    dash.page.wait_for_function(
        "() => document.getElementById('chart').data[0].name === 'prcp observed'"
    )
    assert "forecasts tmax, not prcp" in (dash.page.text_content("#chart-note") or "")
    assert "forecast" not in [t["uid"] for t in dash.traces()]
    dash.page.select_option("#variable", "tmax")
    dash.page.check('input[name="strategy"][value="direct"]')
    dash.page.wait_for_selector("#attention-card:not([hidden])")
    heat = dash.trace("attention", "attention")
    assert heat["type"] == "heatmap"
    assert len(heat["z"]) == 7 and all(len(row) == 28 for row in heat["z"])  # (H, L)
    # numeric axes: the lookback's 28 steps end at the issue time (0), the forecast steps 1..7
    assert heat["x"][0] == -27.5 and heat["x"][-1] == 0.5 and len(heat["x"]) == 29
    assert heat["y"][0] == 0.5 and heat["y"][-1] == 7.5
    # the colour is log2(weight / uniform), anchored at uniform and never narrower than 1/4x..4x
    assert heat["meta"]["uniform"] == pytest.approx(1 / 28) and heat["meta"]["span"] >= 2
    scale = dash.page.evaluate(
        "() => { const t = document.getElementById('attention').data[0];"
        " return [t.zmin, t.zmid, t.zmax, t.colorbar.title.text]; }"
    )
    assert scale[0] == -scale[2] and scale[1] == 0 and "uniform" in scale[3]
    entropy = dash.trace("attention-entropy", "attention")
    assert len(entropy["x"]) == 7 and all(0 <= e <= 1.0001 for e in entropy["x"])
    subtitle = dash.page.text_content("#attention-subtitle") or ""
    assert "uniform 1/28" in subtitle and "entropy" in subtitle
    dash.page.screenshot(path=str(artifacts / "dashboard-weather.png"), full_page=True)
    dash.page.check('input[name="strategy"][value="recursive"]')
    dash.page.wait_for_selector("#attention-card", state="hidden")


def test_models_table_marks_the_champion_and_promote_needs_the_key(dash: Dash) -> None:
    dash.open("AAPL")
    rows = dash.page.eval_on_selector_all(
        "#models-table tbody tr",
        "trs => trs.map(r => ({id: r.dataset.version, status: r.dataset.status,"
        " cells: [...r.cells].map(c => c.textContent)}))",
    )
    assert [r["status"] for r in rows].count("champion") == 2
    archived = next(r for r in rows if r["status"] == "archived")
    assert archived["cells"][1:3] == ["lstm", "direct"]
    assert archived["cells"][5].startswith("2005-")  # trained on data from ...
    assert archived["cells"][6].startswith("MASE ")
    assert next(r for r in rows if r["status"] == "champion")["cells"][3] == "★ champion"

    promote = f'#models-table tr[data-version="{archived["id"]}"] button[data-action=promote]'
    dash.page.click(promote)
    assert "needs the API key" in (dash.page.text_content("#banner") or "")
    dash.enter_key(API_KEY)
    dash.page.click(promote)
    dash.page.wait_for_selector(
        f'#models-table tr[data-version="{archived["id"]}"][data-status=champion]'
    )
    dash.wait_idle()
    forecast = dash.trace("forecast")
    assert forecast["meta"] == {"strategy": "direct", "model": int(archived["id"])}
    assert API_KEY not in dash.page.content()  # kept in sessionStorage, never in the page


def test_wrong_key_says_so_and_is_forgotten(dash: Dash) -> None:
    dash.open("AAPL")
    dash.page.click("#retrain")
    assert "needs the API key" in (dash.page.text_content("#banner") or "")
    dash.enter_key("not-the-key")
    dash.page.click("#retrain")
    dash.page.wait_for_selector("#banner:has-text('Wrong API key')")
    assert dash.page.is_visible("#key-form")  # asks again
    assert dash.page.evaluate("() => sessionStorage.getItem('forecaster.apiKey')") is None


def test_retrain_runs_the_flow_and_the_new_champion_appears(dash: Dash, live_app: LiveApp) -> None:
    dash.open("IBM")
    note = dash.page.text_content("#chart-note") or ""
    assert "No recursive champion yet for IBM" in note and "Retrain IBM" in note
    assert "No model versions yet" in (dash.page.text_content("#models-empty") or "")
    assert dash.page.get_attribute("#chart", "data-shown-model") == ""

    dash.enter_key(API_KEY)
    dash.page.click("#retrain")
    dash.page.wait_for_selector("#run-status[data-status]")
    dash.page.wait_for_selector("#run-status[data-status=completed]", timeout=60_000)
    dash.page.wait_for_function(
        "() => document.getElementById('chart').dataset.shownModel !== ''", timeout=15_000
    )
    dash.wait_idle()
    run_id = int(dash.page.get_attribute("#run-status", "data-run") or 0)
    with live_app.factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=run_id)
        assert run.status == "completed" and run.kind == "retrain", run.error
        versions, [served] = run.result["versions"], run.result["served"]
    assert len(versions) == 1 and served["strategy"] == "direct"
    # the direct champion is shown: the GRU if it beat the naive baselines, else a baseline
    assert dash.trace("forecast")["meta"] == {"strategy": "direct", "model": served["version_id"]}
    status = dash.page.get_attribute(
        f'#models-table tr[data-version="{served["version_id"]}"]', "data-status"
    )
    assert status == "champion"
    banner = dash.page.text_content("#skill-banner") or ""
    api = httpx.get(f"{live_app.base_url}/api/v1/forecasts/IBM?strategy=direct").json()
    if served["baseline"]:  # a near random walk: a 2-epoch GRU has no skill over naive
        assert dash.page.is_visible("#skill-banner") and banner == api["skill"]
        assert banner.startswith("No skill: no trained model beat the naive baselines")
        upper, lower = dash.trace("forecast-upper"), dash.trace("forecast-lower")
        assert all(lo < up for lo, up in zip(lower["y"], upper["y"], strict=True))
        assert "a baseline is served there" in (dash.page.text_content("#run-status") or "")
    else:
        assert served["version_id"] == versions[0] and not dash.page.is_visible("#skill-banner")
        assert "promoted" in (dash.page.text_content("#run-status") or "")


def test_failed_run_shows_its_reason(dash: Dash) -> None:
    dash.open(SHORT_SERIES)
    dash.enter_key(API_KEY)
    dash.page.click("#retrain")
    dash.page.wait_for_selector("#run-status[data-status=failed]", timeout=60_000)
    text = dash.page.text_content("#run-status") or ""
    assert text.startswith("retrain run #") and "failed after" in text
    assert f"{SHORT_SERIES} gru/direct:" in text  # the flow's own reason, per candidate
    # the failed version is listed with the first line of its error, and cannot be promoted
    dash.page.wait_for_selector("#models-table tr[data-status=failed]")
    failed = dash.page.text_content("#models-table tr[data-status=failed] td.err") or ""
    assert failed and failed in text
    assert not dash.page.is_visible("#models-table tr[data-status=failed] button")


def test_no_series_yet_says_what_to_do(dash: Dash) -> None:
    # The page as a fresh server shows it (its database has no series).
    dash.page.route(
        "**/api/v1/series",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps({"data": [], "count": 0})
        ),
    )
    dash.open()
    dash.page.wait_for_selector("#welcome:not([hidden])")
    text = dash.page.text_content("#welcome") or ""
    assert text.startswith("No series yet") and "forecaster ingest sample" in text
    assert dash.page.is_hidden("#series-view")


def test_every_request_stays_on_the_app(dash: Dash) -> None:
    for key in ("AAPL", "seattle-weather", "IBM"):
        dash.open(key)
        dash.page.check("#overlay")
        dash.page.check('input[name="strategy"][value="direct"]')
        dash.wait_idle()
    assert dash.requests, "no requests recorded"
    assert any(url.endswith("/dashboard.js") for url in dash.requests)
    assert any("/vendor/plotly.min.js" in url for url in dash.requests)
    assert dash.foreign_requests() == []


def test_page_and_assets_are_served_by_the_app(live_app: LiveApp) -> None:
    page = httpx.get(live_app.base_url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert API_KEY not in page.text and "http" not in page.text.split("</head>")[0]
    bundle = httpx.get(live_app.base_url + "/vendor/plotly.min.js")  # httpx accepts gzip
    assert bundle.status_code == 200 and bundle.headers["content-encoding"] == "gzip"
    assert bundle.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert bundle.text.lstrip().startswith("/**\n* plotly.js (cartesian - minified) v4.1.1")
    static = Path(__file__).resolve().parents[2] / "api" / "dashboard" / "static"
    names = sorted(p.name for p in static.iterdir())
    assert "dashboard.js" in names and "dashboard.css" in names
    for name in names:
        asset = httpx.get(f"{live_app.base_url}/static/{name}")
        assert asset.status_code == 200, name
        if name.endswith(".js") and name != "dashboard.js":  # fetched at once, not level by level
            assert f'<link rel="modulepreload" href="/static/{name}">' in page.text, name
        if name.endswith(".js"):  # modules load only with a JavaScript MIME type
            assert asset.headers["content-type"].startswith("text/javascript"), name


def test_forecasts_vs_what_happened_panel_draws_past_forecasts_over_the_actuals(
    dash: Dash, live_app: LiveApp
) -> None:
    """The champion's forecasts from six earlier origins (its real predictions on the history to
    each origin), logged and scored as the service does, drawn over what happened."""
    from forecaster.app import catalog
    from forecaster.app.accuracy import log_served
    from forecaster.db import forecast_log
    from forecaster.db.versions import load_version

    with live_app.factory.begin() as session:
        series = series_db.get_series(session=session, key="seattle-weather")
        champion = catalog.get_champion(
            session=session, series_id=series.id, strategy="recursive", series_key=series.key
        )
        model = load_version(champion)
        frame = observations_db.read_frame(
            session=session, series_id=series.id, variables=model.variables
        )
        origins = []
        for back in range(6, 0, -1):
            fc = model.predict(frame.iloc[: len(frame) - 5 - back])
            log_served(
                session=session,
                series_id=series.id,
                version=champion,
                issued_at=fc.issued_at.to_pydatetime(),
                points=fc.points,
                level=fc.level,
            )
            origins.append(fc.issued_at)
        forecast_log.score(session=session, series_id=series.id)
    dash.open("seattle-weather")
    dash.page.wait_for_function(
        "() => (document.getElementById('accuracy-chart').data || []).length > 1"
    )
    served = [t for t in dash.traces("accuracy-chart") if t["uid"].startswith("past-20")]
    assert len(served) >= len(origins)  # the six, and any the page's own reads logged
    actual = dash.trace("past-actual", "accuracy-chart")
    report = httpx.get(f"{live_app.base_url}/api/v1/series/seattle-weather/accuracy").json()
    version = report["versions"][0]
    assert version["version_id"] == champion.id and version["origins"] == 6
    tmax = frame["tmax"]
    assert actual["y"] == [float(tmax.loc[pd.Timestamp(x)]) for x in actual["x"]]
    summary = dash.page.text_content("#accuracy-summary") or ""
    assert summary.startswith(f"Version #{champion.id} (gru) over 6 scored origins")
    pooled = next(f for f in version["figures"] if f["variable"] == "tmax" and f["step"] == 0)
    assert f"live MAE {pooled['live']['mae']:.3g}" in summary
    steps = dash.trace("steps-live-mae", "accuracy-steps")
    per_step = [f for f in version["figures"] if f["variable"] == "tmax" and f["step"] > 0]
    assert steps["y"] == pytest.approx([f["live"]["mae"] for f in per_step])
    backtest = dash.trace("steps-backtest-mae", "accuracy-steps")
    assert backtest["y"] == pytest.approx([f["backtest"]["mae"] for f in per_step])
    assert dash.errors == []
