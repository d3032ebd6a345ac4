// Forecaster dashboard: plain JS modules over the public JSON API (/api/v1), charts with Plotly.
// No build step. This module holds the state, loads what the view shows and wires the controls.

import {
  ApiError,
  api,
  apiKey,
  authMessage,
  clearKey,
  defaultVariable,
  enc,
  forecastPath,
  modelLabel,
  readHistory,
  seriesKind,
  settle,
  storeKey,
  windowStart,
} from "./api.js";
import {
  COLORS,
  PLOT_CONFIG,
  chartLayout,
  drawPreview,
  historyView,
  forecastTraces,
  historyTrace,
  lastObserved,
  naiveTrace,
  plotAttention,
  plotErrors,
} from "./charts.js";
import { $, code, el, fmtDate, fmtNum, showBanner } from "./dom.js";
import { renderAccuracy } from "./accuracy.js";
import { errorsTable, isActive, modelsTable, runSummary } from "./panels.js";

const RUN_POLL_MS = 1000;
const CHAMPION_POLL_MS = 20000; // notices a champion promoted elsewhere (CLI, schedule, another tab)
const STRATEGIES = ["recursive", "direct"];
const NOT_LOADED = { error: new ApiError(0, "not loaded") };

const state = {
  series: [],
  key: null,
  variable: null,
  variableChosen: false, // the user picked it: keep it when the model's targets differ
  windowDays: "recent",
  strategy: "recursive",
  model: "champion", // or a version id (string)
  overlay: false,
  history: { x: [], y: [] },
  champions: {}, // strategy -> {forecast} | {error}
  shown: null, // {forecast} | {error}: the forecast of the model being shown
  models: [],
  errorMetric: "mae",
  run: null,
  loadToken: 0, // a load that finds a newer token discards its result
};
const histories = new Map(); // "key|variable|window" -> {x, y}
let runTimer = null;
let championTimer = null;
// Tests and curious users read this: the state, when the first chart was drawn, and how many
// loads are in flight (0: the page shows everything it asked for).
// firstPaintAt: history (and forecast) first on screen, as the preview or the plotly chart;
// firstChartAt: the first interactive plotly chart.
window.dashboard = { state, firstPaintAt: null, firstChartAt: null, plotlyAt: null, previews: 0, renders: 0, busy: 0 };

// Plotly is preloaded (index.html) and run once the first view has painted: loadPlotly() adds
// its script; plotlyReady resolves when it ran (true) or failed (false).
let plotlyLoaded = null;
const plotlyReady = new Promise((resolve) => {
  plotlyLoaded = resolve;
});
function loadPlotly() {
  if (document.getElementById("plotly-script")) return;
  const script = el("script", { id: "plotly-script", src: document.getElementById("plotly-js").href });
  script.addEventListener("load", () => plotlyLoaded(Boolean(window.Plotly)));
  script.addEventListener("error", () => plotlyLoaded(false));
  document.head.append(script);
}
// after the next frame is on screen
const afterPaint = (fn) => requestAnimationFrame(() => setTimeout(fn, 0));

// Counts a load or an action from start to drawn, so "idle" means the page is up to date.
function tracked(fn) {
  return async (...args) => {
    window.dashboard.busy += 1;
    try {
      return await fn(...args);
    } finally {
      window.dashboard.busy -= 1;
    }
  };
}

const currentSeries = () => state.series.find((s) => s.key === state.key) || null;
const toResult = (settled) => (!settled ? NOT_LOADED : settled.error ? { error: settled.error } : { forecast: settled.value });
const championOf = (strategy) => (state.champions[strategy] && state.champions[strategy].forecast) || null;

// --- API key -------------------------------------------------------------------------

function renderKey() {
  const has = Boolean(apiKey());
  $("key-form").hidden = has;
  $("key-state").hidden = !has;
}

function forgetKey() {
  clearKey();
  renderKey();
}

// Runs a mutating call with the key; says what to do when there is none or it is refused.
async function withKey(action, call) {
  if (!apiKey()) {
    showBanner(authMessage(new ApiError(401, ""), action));
    $("key-input").focus();
    return null;
  }
  const { value, error } = await settle(call());
  if (error) {
    if (error.status === 403) forgetKey(); // wrong: ask for it again
    showBanner(authMessage(error, action) || `${action} was refused: ${error.detail}`);
    return null;
  }
  showBanner("");
  return value;
}

// --- series list ---------------------------------------------------------------------

async function loadSeriesList() {
  const { value, error } = await settle(api("/series"));
  if (error) {
    showBanner(`Could not list the series: ${error.detail}`);
    return;
  }
  state.series = value.data;
  renderSeriesList();
}

function renderSeriesList() {
  $("series-list").replaceChildren(
    ...state.series.map((s) => {
      const kind = seriesKind(s);
      const button = el(
        "button",
        { type: "button", "data-key": s.key, "aria-current": s.key === state.key ? "true" : "false", onclick: () => selectSeries(s.key) },
        el("span", { class: "key", text: s.key }),
        el("span", { class: `kind ${kind}`, text: kind }),
        el("span", { class: "sub", text: `${s.source} · ${s.frequency} · last ${fmtDate(s.last)}` }),
      );
      return el("li", {}, button);
    }),
  );
  const empty = state.series.length === 0;
  $("series-empty").hidden = !empty;
  $("series-empty").textContent = empty ? "No series yet." : "";
  const welcome = $("welcome");
  if (empty) {
    $("series-view").hidden = true;
    welcome.hidden = false;
    welcome.replaceChildren(
      el("h2", { text: "No series yet" }),
      el("p", {}, "Nothing has been ingested into this server's database. To load the bundled real sample (AAPL and IBM prices, Seattle weather), run ", code("forecaster ingest sample"), " on the server, or ", code("forecaster demo"), " to ingest, train and serve in one go."),
      el("p", {}, "To track a new ticker or weather station: ", code('POST /api/v1/series {"key": "MSFT", "source": "yahoo", "ticker": "MSFT"}'), " with the API key, then ", code('POST /api/v1/runs {"kind": "ingest"}'), " (see ", el("a", { href: "/docs", text: "the API docs" }), ")."),
      el("p", {}, el("button", { type: "button", onclick: () => init(), text: "Reload" })),
    );
  } else if (!state.key) {
    welcome.hidden = false;
    welcome.replaceChildren(el("h2", { text: "Pick a series" }), el("p", { text: "Choose a stock or weather series on the left to see its history, forecasts and errors." }));
  }
}

// --- loading -------------------------------------------------------------------------

function loadHistory(s, variable, days) {
  const cacheKey = `${s.key}|${variable}|${days}`;
  if (!histories.has(cacheKey)) {
    // "recent" shows a few forecast lengths: a year is loaded, so zooming out has data
    const loading = readHistory(s.key, variable, windowStart(s.last, days === "recent" ? "366" : days));
    loading.catch(() => histories.delete(cacheKey)); // a failure is not cached
    histories.set(cacheKey, loading);
  }
  return histories.get(cacheKey);
}

const selectSeries = tracked(async (key) => {
  if (key !== state.key) {
    Object.assign(state, { key, model: "champion", variable: null, variableChosen: false, run: null });
    stopRunPolling();
  }
  const url = new URL(location.href);
  url.searchParams.set("series", key);
  history.replaceState(null, "", url);
  renderSeriesList();
  await refreshSeries();
  await watchRuns();
});

// Reads everything the view shows, in parallel, then draws it once.
const refreshSeries = tracked(async () => {
  const s = currentSeries();
  if (!s) return;
  const token = ++state.loadToken;
  if (!state.variable || !s.variables.includes(state.variable)) state.variable = defaultVariable(s);
  $("welcome").hidden = true;
  $("series-view").hidden = false;
  renderHeader(s);

  const wantVersion = state.model !== "champion";
  const noHistory = Promise.resolve({ value: { x: [], y: [] } });
  const [hist, rec, dir, models, shown] = await Promise.all([
    s.timestamps > 0 && state.variable ? settle(loadHistory(s, state.variable, state.windowDays)) : noHistory,
    settle(api(forecastPath(s.key, "recursive", "champion"))),
    settle(api(forecastPath(s.key, "direct", "champion"))),
    settle(api(`/models?series=${enc(s.key)}`)),
    wantVersion ? settle(api(forecastPath(s.key, state.strategy, state.model))) : null,
  ]);
  if (token !== state.loadToken) return; // a newer selection won
  state.champions = { recursive: toResult(rec), direct: toResult(dir) };
  state.models = models.value ? models.value.data : [];
  if (models.error) showBanner(`Could not list the model versions: ${models.error.detail}`);
  // open on a strategy that has a champion when the chosen one has none
  if (!wantVersion && !championOf(state.strategy)) {
    const other = STRATEGIES.find((k) => k !== state.strategy);
    if (championOf(other)) state.strategy = other;
  }
  state.shown = wantVersion ? toResult(shown) : state.champions[state.strategy];
  state.history = hist.value || { x: [], y: [] };
  if (hist.error) showBanner(`Could not read the observations of ${s.key}: ${hist.error.detail}`);

  // a model forecasting another variable than the default one: show what it forecasts
  const targets = state.shown.forecast ? state.shown.forecast.model.targets : [];
  if (!state.variableChosen && targets.length && !targets.includes(state.variable) && s.variables.includes(targets[0])) {
    state.variable = targets[0];
    const again = await settle(loadHistory(s, state.variable, state.windowDays));
    if (token !== state.loadToken) return;
    state.history = again.value || { x: [], y: [] };
  }
  await draw();
});

const refreshShown = tracked(async () => {
  const s = currentSeries();
  if (!s) return;
  const token = ++state.loadToken;
  if (state.model === "champion") {
    state.shown = state.champions[state.strategy] || NOT_LOADED;
  } else {
    const result = await settle(api(forecastPath(s.key, state.strategy, state.model)));
    if (token !== state.loadToken) return;
    state.shown = toResult(result);
  }
  await draw();
});

const refreshHistory = tracked(async () => {
  const s = currentSeries();
  if (!s) return;
  const token = ++state.loadToken;
  const result = await settle(loadHistory(s, state.variable, state.windowDays));
  if (token !== state.loadToken) return;
  if (result.error) showBanner(`Could not read the observations of ${s.key}: ${result.error.detail}`);
  state.history = result.value || { x: [], y: [] };
  await draw();
});

// --- rendering -----------------------------------------------------------------------

async function draw() {
  if (!window.Plotly) {
    // plotly is still compiling (a first visit): paint the chart as a static preview meanwhile
    renderControls();
    renderSkillBanner();
    renderPreview();
    renderModels();
    renderRun();
    afterPaint(loadPlotly);
  }
  const ready = await plotlyReady;
  window.dashboard.plotlyAt = window.dashboard.plotlyAt || performance.now();
  if (!ready || typeof Plotly === "undefined") {
    showBanner("The chart library did not load (GET /vendor/plotly.min.js failed): is api/dashboard/vendor/plotly-cartesian.min.js in the installation?");
    return;
  }
  renderControls();
  renderSkillBanner();
  renderChart();
  renderErrors();
  renderAttention();
  renderModels();
  renderRun();
  if (state.key && state.variable) renderAccuracy(state.key, state.strategy, state.variable);
}

function renderHeader(s) {
  $("series-title").textContent = s.key;
  const params = Object.entries(s.params || {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  $("series-meta").textContent =
    s.timestamps > 0
      ? `${seriesKind(s)} · source ${s.source}${params ? ` (${params})` : ""} · frequency ${s.frequency} · ${fmtDate(s.first)} to ${fmtDate(s.last)} · variables ${s.variables.join(", ")}`
      : `source ${s.source} · no observations yet`;
  $("retrain").textContent = `Retrain ${s.key}`;
  // no data yet: nothing to train on or to draw; the note offers the fetch instead
  $("retrain").hidden = s.timestamps === 0;
  document.querySelector(".chart-box").hidden = s.timestamps === 0;
}

function renderControls() {
  const s = currentSeries();
  const variable = $("variable");
  variable.replaceChildren(...s.variables.map((v) => el("option", { value: v, text: v, selected: v === state.variable })));
  variable.disabled = s.variables.length < 2;
  $("window").value = state.windowDays;
  for (const radio of document.querySelectorAll('input[name="strategy"]')) {
    radio.checked = radio.value === state.strategy;
    radio.parentElement.title = championOf(radio.value) ? "" : `no ${radio.value} champion yet`;
  }
  const champion = championOf(state.strategy);
  const others = state.models.filter((m) => m.strategy === state.strategy && m.status !== "failed" && m.status !== "champion");
  const model = $("model");
  model.replaceChildren(
    el("option", { value: "champion", text: champion ? `champion (#${champion.model.id} ${champion.model.architecture})` : "champion (none yet)" }),
    ...others.map((m) => el("option", { value: String(m.id), text: `#${m.id} ${m.architecture} (${m.status})` })),
  );
  model.value = state.model;
  if (model.value !== state.model) model.value = "champion";
  $("overlay").checked = state.overlay;
}

function chartFigure() {
  const s = currentSeries();
  const { variable, history } = state;
  const shown = state.shown && state.shown.forecast;
  const notes = [];
  const traces = [historyTrace(history, variable)];
  if (s.timestamps > 0 && !history.y.some((y) => y !== null)) {
    notes.push([`No observed values of ${variable} in this window: the source reports it empty here. Pick another variable or a longer history.`]);
  }
  if (s.timestamps === 0) {
    const fetch = el("button", { type: "button", class: "primary", id: "fetch-now", text: `Fetch ${s.key}'s data`, onclick: () => startRun("ingest") });
    notes.push(["No data yet for ", s.key, ": fetch it first (needs the API key), or run ", code("forecaster ingest"), " on the server. ", fetch]);
  }
  if (shown) {
    const drawn = forecastTraces(shown, variable, { role: "forecast", color: COLORS.forecast, band: true });
    traces.push(...drawn);
    if (!drawn.length) {
      notes.push([`The shown model (${modelLabel(shown.model)}) forecasts ${shown.model.targets.join(", ")}, not ${variable}: pick `, el("b", { text: shown.model.targets[0] }), " under Variable to see its forecast."]);
    }
  } else if (state.shown && state.shown.error) {
    notes.push(shownErrorNote(s, state.shown.error));
  }
  // the forecast steps' dates (for the naive baseline) and origin, from any forecast there is
  const reference = shown || STRATEGIES.map(championOf).find(Boolean);
  const stepsTs = reference ? [...new Set(reference.points.map((p) => p.ts))].sort() : [];
  const origin = reference ? reference.issued_at : null;
  if (state.overlay) {
    for (const strategy of STRATEGIES) {
      const fc = championOf(strategy);
      if (!fc || (shown && fc.model.id === shown.model.id)) continue;
      traces.push(...forecastTraces(fc, variable, { role: `overlay-${strategy}`, color: COLORS[strategy], dash: "dash" }));
    }
    const last = lastObserved(history, origin);
    if (last && stepsTs.length) traces.push(naiveTrace(last, stepsTs, fmtNum(last.value)));
    else if (!stepsTs.length) notes.push(["The naive baseline needs the forecast steps' dates: there is no forecast for this series yet."]);
  }

  const note = $("chart-note");
  note.hidden = notes.length === 0;
  note.replaceChildren(...notes.map((parts) => el("div", {}, ...parts)));

  const layout = chartLayout({ variable, origin, originLabel: `forecast origin ${fmtDate(origin)}`, uirevision: `${s.key}|${variable}|${state.windowDays}` });
  historyView(layout, traces, history, state.windowDays, stepsTs.length);
  return { traces, layout, shown };
}

function markPainted() {
  if (window.dashboard.firstPaintAt === null && state.history.x.length) window.dashboard.firstPaintAt = performance.now();
}

function renderPreview() {
  const { traces, layout } = chartFigure();
  const preview = $("chart-preview");
  preview.hidden = !drawPreview(preview, traces, layout);
  if (!preview.hidden) {
    window.dashboard.previews += 1;
    markPainted();
  }
}

function renderChart() {
  const chart = $("chart");
  const s = currentSeries();
  const { traces, layout, shown } = chartFigure();
  const variable = state.variable;
  Plotly.react(chart, traces, layout, PLOT_CONFIG);
  const preview = $("chart-preview");
  preview.hidden = true;
  preview.replaceChildren();
  window.dashboard.renders += 1;
  markPainted();
  if (window.dashboard.firstChartAt === null && state.history.x.length) window.dashboard.firstChartAt = performance.now();
  chart.dataset.series = s.key;
  chart.dataset.variable = variable || "";
  chart.dataset.shownModel = shown ? String(shown.model.id) : "";
}

function shownErrorNote(s, error) {
  if (error.status !== 409) return [`No forecast: ${error.detail}`];
  const other = STRATEGIES.find((k) => k !== state.strategy);
  return [
    `No ${state.strategy} champion yet for ${s.key}. `,
    championOf(other) ? `Switch the strategy to ${other}, or click ` : "Click ",
    el("b", { text: `Retrain ${s.key}` }),
    " to train candidates (needs the API key), or run ",
    code(`forecaster retrain ${s.key}`),
    " on the server.",
  ];
}

// One plain sentence over the chart when no model beat the naive baselines and one is served.
function renderSkillBanner() {
  const fc = state.shown && state.shown.forecast;
  const banner = $("skill-banner");
  const show = Boolean(fc && fc.baseline_served && fc.skill);
  banner.hidden = !show;
  banner.textContent = show ? fc.skill : "";
}

function renderErrors() {
  const fc = state.shown && state.shown.forecast;
  const [empty, body, skill] = [$("errors-empty"), $("errors-body"), $("skill")];
  if (!fc || !fc.metrics.length) {
    body.hidden = true;
    skill.hidden = true;
    empty.hidden = false;
    $("errors-subtitle").textContent = "";
    empty.textContent = fc
      ? `Model #${fc.model.id} has no backtest figures stored.`
      : "No model to show yet: errors appear here, beside the naive baselines, once the series has a champion (click Retrain).";
    Plotly.purge($("errors-chart"));
    return;
  }
  const variables = [...new Set(fc.metrics.map((m) => m.variable))];
  const variable = variables.includes(state.variable) ? state.variable : variables[0];
  const rows = fc.metrics.filter((m) => m.variable === variable);
  const steps = rows.filter((m) => m.step > 0).sort((a, b) => a.step - b.step);
  body.hidden = false;
  empty.hidden = true;
  $("errors-subtitle").textContent = `· ${modelLabel(fc.model)} on ${variable}, ${fc.metrics_split} (${steps.length} steps)`;
  skill.hidden = !fc.skill;
  skill.textContent = fc.skill || "";
  skill.className = `skill ${fc.has_skill === false ? "no-skill" : "has-skill"}`;
  // the table first: the chart takes the width the table leaves
  $("errors-table").replaceChildren(...errorsTable(fc, steps, rows.find((m) => m.step === 0)));
  plotErrors($("errors-chart"), steps, state.errorMetric, fc.model.id);
}

function renderAttention() {
  const fc = state.shown && state.shown.forecast;
  const card = $("attention-card");
  if (!fc || !fc.attention || !fc.attention.weights.length) {
    card.hidden = true;
    Plotly.purge($("attention"));
    return;
  }
  card.hidden = false;
  const a = fc.attention;
  const cols = a.weights[0].length;
  const steps = cols * (a.segment_len || 1);
  const what = a.resolution === "segment" ? `${cols} segments of ${a.segment_len} steps` : `${cols} steps`;
  const mean = a.row_entropy.reduce((t, v) => t + v, 0) / Math.max(1, a.row_entropy.length);
  $("attention-subtitle").textContent =
    `· ${modelLabel(fc.model)}, issued at ${fmtDate(fc.issued_at)}: how each forecast ${a.resolution === "segment" ? "segment" : "step"} weighed the last ${steps} steps (${what}). ` +
    `Colour: weight against uniform 1/${cols} (white = uniform, blue = more, orange = less). ` +
    `Bars: each row's entropy relative to uniform (1 = attends evenly; mean ${mean.toFixed(2)}).`;
  plotAttention($("attention"), fc.attention);
}

function renderModels() {
  const s = currentSeries();
  const empty = $("models-empty");
  const shownId = state.shown && state.shown.forecast ? state.shown.forecast.model.id : null;
  empty.hidden = state.models.length > 0;
  if (!state.models.length) {
    $("models-table").replaceChildren();
    empty.replaceChildren("No model versions yet for ", s.key, ": click ", el("b", { text: `Retrain ${s.key}` }), " (needs the API key) to train the candidates of the retrain config, or run ", code(`forecaster retrain ${s.key}`), " on the server.");
    return;
  }
  const onShow = (m) => {
    state.strategy = m.strategy;
    state.model = m.status === "champion" ? "champion" : String(m.id);
    refreshShown();
  };
  $("models-table").replaceChildren(...modelsTable(state.models, shownId, { onShow, onPromote: promote }));
}

function renderRun() {
  const box = $("run-status");
  const run = state.run;
  $("retrain").disabled = isActive(run);
  $("ingest").disabled = isActive(run);
  box.hidden = !run;
  if (!run) return;
  box.className = `run-status ${run.status}`;
  box.dataset.status = run.status;
  box.dataset.run = run.id;
  box.textContent = runSummary(run, { key: state.key, versions: new Set(state.models.map((m) => m.id)) });
}

// --- actions -------------------------------------------------------------------------

const promote = tracked(async (m) => {
  const done = await withKey("Promoting", () => api(`/models/${m.id}/promote`, { method: "POST", auth: true }));
  if (!done) return;
  state.strategy = m.strategy;
  state.model = "champion";
  await refreshSeries();
});

const startRun = tracked(async (kind) => {
  const s = currentSeries();
  $("retrain").disabled = true;
  $("ingest").disabled = true;
  const run = await withKey(kind === "retrain" ? "Retraining" : "Fetching new data", () => api("/runs", { method: "POST", body: { kind, series: [s.key] }, auth: true }));
  if (run) state.run = run;
  renderRun();
  if (run) pollRun(run.id, s.key);
});

function stopRunPolling() {
  if (runTimer) clearTimeout(runTimer);
  runTimer = null;
}

function pollRun(runId, key) {
  stopRunPolling();
  runTimer = setTimeout(async () => {
    const { value, error } = await settle(api(`/runs/${runId}`));
    if (key !== state.key) return;
    if (error) {
      runTimer = null;
      showBanner(`Lost track of run ${runId}: ${error.detail}`);
      return;
    }
    state.run = value;
    renderRun();
    if (isActive(value)) {
      pollRun(runId, key);
      return;
    }
    runTimer = null;
    // finished: new versions (and maybe a new champion) or new data
    histories.clear();
    await loadSeriesList();
    await refreshSeries();
  }, RUN_POLL_MS);
}

// The latest run touching this series: shown, and followed if it is still going.
async function watchRuns() {
  const key = state.key;
  const { value } = await settle(api("/runs?limit=50"));
  if (!value || key !== state.key || state.run) return;
  // a run named for this series, or a run over every series that is still going or produced
  // a version of this one (not the last global run on every series' page)
  const ours = new Set(state.models.map((m) => m.id));
  const touches = (r) => (r.parameters.series || []).includes(key) || (!(r.parameters.series || []).length && (isActive(r) || (r.versions || []).some((v) => ours.has(v))));
  const mine = value.data.find((r) => r.kind !== "forecast" && touches(r));
  if (!mine) return;
  state.run = mine;
  renderRun();
  if (isActive(mine)) pollRun(mine.id, key);
}

function watchChampions() {
  if (championTimer) clearInterval(championTimer);
  championTimer = setInterval(async () => {
    if (document.hidden || !state.key || runTimer) return;
    const key = state.key;
    const { value } = await settle(api(`/models?series=${enc(key)}&status=champion`));
    if (!value || key !== state.key) return;
    const ids = (models) => models.filter((m) => m.status === "champion").map((m) => m.id).sort().join(",");
    if (ids(value.data) !== ids(state.models)) await refreshSeries();
  }, CHAMPION_POLL_MS);
}

// --- wiring --------------------------------------------------------------------------

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
    refreshHistory();
  });
  $("window").addEventListener("change", (e) => {
    state.windowDays = e.target.value;
    const url = new URL(location.href);
    url.searchParams.set("window", state.windowDays);
    history.replaceState(null, "", url);
    refreshHistory();
  });
  for (const radio of document.querySelectorAll('input[name="strategy"]')) {
    radio.addEventListener("change", (e) => {
      state.strategy = e.target.value;
      state.model = "champion";
      refreshShown();
    });
  }
  $("model").addEventListener("change", (e) => {
    state.model = e.target.value;
    refreshShown();
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

wire();
init();
