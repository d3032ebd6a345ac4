"""The dashboard as it looks, not only what it holds: at a laptop's 1280 px and a phone's 390 px
nothing overflows its card, the forecast gets a readable share of the chart, the History select
moves the x-range, the heatmap's labels do not overlap, an empty series says "fetch". Every
state is kept as a screenshot under test-artifacts/layout/."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from tests.browser.conftest import Dash, LiveApp

pytestmark = pytest.mark.browser

WIDTHS = {"laptop": (1280, 800), "phone": (390, 844)}
EMPTY = "NEWCO"

# Elements sticking out of their card (or the page wider than the window). A table scrolls
# inside its .table-scroll box, so only the box itself must fit.
OVERFLOW = """() => {
  const out = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    out.push(`page ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
  for (const card of document.querySelectorAll('.card, .topbar, .sidebar')) {
    if (card.closest('[hidden]') || !card.offsetParent) continue;
    const box = card.getBoundingClientRect();
    for (const node of card.querySelectorAll('*')) {
      if (node.closest('.table-scroll') && !node.classList.contains('table-scroll')) continue;
      if (node.closest('svg') && node.tagName.toLowerCase() !== 'svg') continue;
      const r = node.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      if (r.right > box.right + 1 || r.left < box.left - 1)
        out.push(`${node.tagName.toLowerCase()}#${node.id}.${node.className && node.className.baseVal === undefined ? node.className : ''} `
                 + `[${Math.round(r.left)}, ${Math.round(r.right)}] outside its card [${Math.round(box.left)}, ${Math.round(box.right)}]`);
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def with_empty_series(live_app: LiveApp) -> LiveApp:
    with live_app.factory.begin() as session:
        series_db.register_series(
            session=session, key=EMPTY, source="yahoo", params={"ticker": EMPTY}
        )
    return live_app


@pytest.fixture(scope="module")
def shots(artifacts: Path) -> Path:
    folder = artifacts / "layout"
    folder.mkdir(exist_ok=True)
    print(f"\nlayout screenshots: {folder}")  # noqa: T201 - where to look
    return folder


def _at(dash: Dash, width: str) -> None:
    w, h = WIDTHS[width]
    dash.page.set_viewport_size({"width": w, "height": h})


def _x_range(dash: Dash) -> tuple[datetime, datetime]:
    lo, hi = dash.page.evaluate("() => document.getElementById('chart').layout.xaxis.range")
    return datetime.fromisoformat(lo[:19]), datetime.fromisoformat(hi[:19])


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text[:19])


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("series", ["AAPL", "IBM", "seattle-weather"])
def test_nothing_overflows_its_card(dash: Dash, shots: Path, width: str, series: str) -> None:
    _at(dash, width)
    dash.open(series)
    dash.page.check("#overlay")  # compare: the widest legend
    dash.wait_idle()
    dash.page.screenshot(path=str(shots / f"{series}-{width}.png"), full_page=True)
    assert dash.page.evaluate(OVERFLOW) == []


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_forecast_gets_a_readable_share_and_history_moves_the_range(
    dash: Dash, shots: Path, width: str
) -> None:
    _at(dash, width)
    dash.open("AAPL")
    assert dash.page.input_value("#window") == "recent"
    lo, hi = _x_range(dash)
    forecast = dash.trace("forecast")
    origin = _ts(dash.trace("history")["x"][-1])
    share = (hi - origin) / (hi - lo)
    assert 0.15 <= share <= 0.3, share  # the 7 steps are about a fifth of the chart
    assert _ts(forecast["x"][-1]) <= hi
    dash.page.check("#overlay")
    dash.wait_idle()
    dash.page.screenshot(path=str(shots / f"compare-recent-{width}.png"))
    spans = {}
    for window in ("92", "731", "all"):
        dash.page.select_option("#window", window)
        dash.page.wait_for_function(f"() => location.search.includes('window={window}')")
        dash.wait_idle()
        lo, hi = _x_range(dash)
        spans[window] = (hi - lo).days
        assert _ts(dash.trace("history")["x"][0]) >= lo  # all of what was loaded is in view
        dash.page.screenshot(path=str(shots / f"history-{window}-{width}.png"))
    assert 85 <= spans["92"] <= 110 and 700 <= spans["731"] <= 760
    assert spans["all"] > 8 * 365  # the bundled 8 years, not the last months


def test_the_attention_heatmap_labels_do_not_overlap(dash: Dash, shots: Path) -> None:
    _at(dash, "laptop")
    dash.open("seattle-weather")
    dash.page.check('input[name="strategy"][value="direct"]')
    dash.page.wait_for_function(
        "() => !document.getElementById('attention-card').hidden"
        " && (document.getElementById('attention').data || []).length"
    )
    dash.wait_idle()
    boxes: dict[str, Any] = dash.page.evaluate(
        """() => {
          const root = document.getElementById('attention');
          const rect = (n) => { const r = n.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
          return {
            title: [...root.querySelectorAll('.xtitle, .ytitle')].map(rect),
            ticks: [...root.querySelectorAll('.xtick text, .ytick text')].map(rect),
          };
        }"""
    )
    dash.page.locator("#attention-card").screenshot(path=str(shots / "attention.png"))
    assert len(boxes["title"]) == 2 and boxes["ticks"]

    def overlap(a: list[float], b: list[float]) -> bool:
        return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5

    clashes = [(t, k) for t in boxes["title"] for k in boxes["ticks"] if overlap(t, k)]
    assert clashes == []


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_series_with_no_data_says_fetch(
    dash: Dash, shots: Path, width: str, with_empty_series: LiveApp
) -> None:
    del with_empty_series
    _at(dash, width)
    dash.open_url(f"/?series={EMPTY}")
    dash.page.wait_for_selector("#fetch-now")
    dash.wait_idle()
    dash.page.screenshot(path=str(shots / f"empty-{width}.png"), full_page=True)
    note = dash.page.inner_text("#chart-note")
    assert note.startswith(f"No data yet for {EMPTY}: fetch it first")
    assert dash.page.is_hidden(".chart-box") and dash.page.is_hidden("#retrain")
    assert dash.page.evaluate(OVERFLOW) == []


def test_the_run_banner_is_about_the_series_in_view(dash: Dash, live_app: LiveApp) -> None:
    """A run over every series that produced nothing for IBM is not IBM's banner; one that
    trained AAPL is AAPL's, naming AAPL's versions only."""
    with live_app.factory.begin() as session:
        aapl = series_db.get_series(session=session, key="AAPL").id
        ours = sorted(
            v.id for v in repo_versions(session) if v.series_id == aapl and v.weights is not None
        )
        run = runs_db.create_run(session=session, kind="retrain", parameters={"series": []})
        runs_db.finish_run(
            session=session,
            run_id=run.id,
            status="completed",
            result={"versions": [*ours, 99_999], "promoted": []},
        )
    dash.open("IBM")
    assert dash.page.is_hidden("#run-status")
    dash.open("AAPL")
    dash.page.wait_for_selector("#run-status:not([hidden])")
    text = dash.page.inner_text("#run-status")
    assert text.startswith(f"retrain run #{run.id} completed")
    assert all(f"#{v}" in text for v in ours) and "#99999" not in text


def repo_versions(session: Any) -> Any:
    from forecaster.app import catalog

    return catalog.list_versions(session=session)
