"""Clicking faster than the page loads: through series and controls at random speeds (seeded),
many gaps 50 ms or shorter, then every number on the page must belong to the series in the
title: the chart's traces and their labels, the models table, the error table and the run
message (issue 24 item 1: AAPL's prices once stayed under seattle-weather's title for good)."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Dash, LiveApp

pytestmark = pytest.mark.browser

SERIES = ("AAPL", "seattle-weather", "IBM", "AAPL", "seattle-weather")
# a control changed the way a user changes it: its value set, then its change event
SET_VALUE = """([id, value]) => {
  const node = document.getElementById(id);
  if (node.disabled || ![...node.options].some(o => o.value === value)) return false;
  node.value = value;
  node.dispatchEvent(new Event('change', {bubbles: true}));
  return true;
}"""
CHECK_RADIO = """value => {
  const radio = document.querySelector(`input[name="strategy"][value="${value}"]`);
  radio.checked = true;
  radio.dispatchEvent(new Event('change', {bubbles: true}));
}"""
TOGGLE = """id => {
  const box = document.getElementById(id);
  box.checked = !box.checked;
  box.dispatchEvent(new Event('change', {bubbles: true}));
}"""
OPTIONS = "id => [...document.getElementById(id).options].map(o => o.value)"
PAGE = """() => {
  const chart = document.getElementById('chart');
  const text = (id) => document.getElementById(id).textContent;
  const run = document.getElementById('run-status');
  return {
    title: text('series-title'),
    chartSeries: chart.dataset.series,
    shownModel: chart.dataset.shownModel,
    variable: document.getElementById('variable').value,
    traces: (chart.data || []).map(t => ({uid: t.uid, name: t.name, x: t.x, y: t.y,
                                          meta: t.meta === undefined ? null : t.meta})),
    models: [...document.querySelectorAll('#models-table tbody tr')].map(r => r.dataset.version),
    errorsSubtitle: text('errors-subtitle'),
    errorsModel: ((document.getElementById('errors-chart').data || [])
                  .find(t => t.uid === 'error-model') || {}).name || null,
    errorsShown: !document.getElementById('errors-body').hidden,
    run: run.hidden ? null : run.dataset.run,
  };
}"""


def _gap(rng: random.Random) -> int:
    """Milliseconds before the next click: mostly at most 50, now and then a slower hand."""
    return rng.choice([0, 5, 10, 20, 35, 50, 50]) if rng.random() < 0.75 else rng.randint(80, 600)


def _act(dash: Dash, rng: random.Random) -> None:
    page = dash.page
    what = rng.choice(["series", "series", "strategy", "variable", "window", "model", "overlay"])
    if what == "series":
        page.click(f'#series-list button[data-key="{rng.choice(SERIES)}"]')
    elif what == "strategy":
        page.evaluate(CHECK_RADIO, rng.choice(["recursive", "direct"]))
    elif what in ("variable", "window", "model"):
        page.evaluate(SET_VALUE, [what, rng.choice(page.evaluate(OPTIONS, what))])
    else:
        page.evaluate(TOGGLE, "overlay")


def _series_facts(base: str, key: str) -> dict[str, Any]:
    models = httpx.get(f"{base}/api/v1/models", params={"series": key}).json()["data"]
    series = httpx.get(f"{base}/api/v1/series/{key}").json()
    return {"models": {str(m["id"]) for m in models}, "variables": set(series["variables"])}


def _observed(base: str, key: str, variable: str, start: str) -> dict[str, float | None]:
    params = {"variables": variable, "start": start, "limit": 10000}
    rows = httpx.get(f"{base}/api/v1/series/{key}/observations", params=params).json()["data"]
    return {r["ts"].removesuffix("Z"): r["value"] for r in rows}


def _assert_one_series(dash: Dash, base: str) -> None:
    shown = dash.page.evaluate(PAGE)
    key = shown["title"]
    facts = _series_facts(base, key)
    assert shown["chartSeries"] == key, shown["chartSeries"]
    assert shown["variable"] in facts["variables"], shown["variable"]
    history = next(t for t in shown["traces"] if t["uid"] == "history")
    assert history["name"] == f"{shown['variable']} observed"
    if history["x"]:  # the values drawn are this series' own observations of that variable
        observed = _observed(base, key, shown["variable"], history["x"][0])
        drawn = dict(zip([x[:19] for x in history["x"]], history["y"], strict=True))
        assert drawn == {ts[:19]: v for ts, v in observed.items() if ts[:19] in drawn}
        assert set(drawn) <= {ts[:19] for ts in observed}
    for trace in shown["traces"]:
        if trace["meta"] and "model" in trace["meta"]:  # forecasts and overlays
            assert str(trace["meta"]["model"]) in facts["models"], (key, trace["name"])
    assert shown["shownModel"] in facts["models"] | {""}
    assert set(shown["models"]) == facts["models"], (key, shown["models"])
    if shown["errorsShown"]:
        model = shown["errorsModel"].removeprefix("model #")
        assert model in facts["models"] and f"#{model}" in shown["errorsSubtitle"]
    if shown["run"]:
        run = httpx.get(f"{base}/api/v1/runs/{shown['run']}").json()
        assert key in run["parameters"].get("series", []) or not run["parameters"].get("series")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_clicks_never_mix_series(dash: Dash, live_app: LiveApp, seed: int) -> None:
    rng = random.Random(seed)
    dash.open("AAPL")
    for _ in range(6):
        for _ in range(12):
            _act(dash, rng)
            dash.page.wait_for_timeout(_gap(rng))
        dash.wait_idle()
        dash.page.wait_for_timeout(300)  # anything still to land (a poll, a late answer)
        dash.wait_idle()
        _assert_one_series(dash, live_app.base_url)
