// Forecaster dashboard: plain JS modules over the public JSON API (/api/v1), charts with Plotly.
// No build step. This module wires the controls and starts the page: state.js holds the state,
// load.js loads what the view shows, render.js and figure.js draw it, actions.js acts.

import { storeKey } from "./api.js";
import { forgetKey, promote, selectSeries, startRun, watchChampions } from "./actions.js";
import { $, showBanner } from "./dom.js";
import { loadSeriesList, refresh } from "./load.js";
import { draw, renderKey } from "./render.js";
import { on, state, tracked } from "./state.js";

function wire() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("key-input").value.trim();
    $("key-input").value = ""; // the key never stays in the page
    if (!value) return;
    storeKey(value);
    showBanner("");
    renderKey();
  });
  $("key-forget").addEventListener("click", forgetKey);
  $("retrain").addEventListener("click", () => startRun("retrain"));
  $("ingest").addEventListener("click", () => startRun("ingest"));
  $("variable").addEventListener("change", (e) => {
    state.variable = e.target.value;
    state.variableChosen = true;
    refresh();
  });
  $("window").addEventListener("change", (e) => {
    state.windowDays = e.target.value;
    const url = new URL(location.href);
    url.searchParams.set("window", state.windowDays);
    history.replaceState(null, "", url);
    refresh();
  });
  for (const radio of document.querySelectorAll('input[name="strategy"]')) {
    radio.addEventListener("change", (e) => {
      state.strategy = e.target.value;
      state.model = "champion";
      refresh();
    });
  }
  $("model").addEventListener("change", (e) => {
    state.model = e.target.value;
    refresh();
  });
  $("overlay").addEventListener("change", (e) => {
    state.overlay = e.target.checked;
    draw();
  });
  $("error-metric").addEventListener("change", (e) => {
    state.errorMetric = e.target.value;
    draw();
  });
}

const init = tracked(async () => {
  showBanner("");
  renderKey();
  await loadSeriesList();
  const params = new URL(location.href).searchParams;
  const wanted = params.get("series");
  // ?window=recent|92|366|731|1827|all: the history shown, as the select offers
  const windows = [...$("window").options].map((o) => o.value);
  if (windows.includes(params.get("window"))) state.windowDays = params.get("window");
  const first = state.series.find((s) => s.key === wanted) || state.series[0];
  if (first) await selectSeries(first.key);
  watchChampions();
});

Object.assign(on, { init, promote, refresh, selectSeries, startRun });
wire();
init();
