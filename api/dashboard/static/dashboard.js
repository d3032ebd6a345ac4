// Forecaster dashboard: plain JS over the public JSON API (/api/v1), charts with Plotly.
// No build step. The API key lives in sessionStorage (this tab only), never in the page.
"use strict";

const API = "/api/v1";
const KEY_STORE = "forecaster.apiKey";
const RUN_POLL_MS = 1000;
const CHAMPION_POLL_MS = 20000; // notices a champion promoted elsewhere (CLI, schedule, another tab)
const FOCUS_ROWS = 90; // the chart opens on the last rows of history plus the forecast
const PAGE_ROWS = 10000; // the API's largest observations page
const COLORS = {
  history: "#3e4c59",
  forecast: "#c4501c",
  band: "rgba(196, 80, 28, 0.16)",
  recursive: "#2f5d8a",
  direct: "#7b3fa0",
  naive: "#6b7280",
  seasonal: "#9aa5b1",
};
const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif", size: 12, color: "#1f2933" };

const state = {
  series: [],
  key: null,
  variable: null,
  variableChosen: false, // the user picked it: keep it when the model's targets differ
  windowDays: "731",
  strategy: "recursive",
  model: "champion", // or a version id (string)
  overlay: false,
  history: { x: [], y: [] },
  champions: {}, // strategy -> {forecast} | {error}
  shown: null, // {forecast} | {error}: the forecast of the model being shown
  models: [],
  errorMetric: "mae",
  run: null,
  loadToken: 0,
};
const histories = new Map(); // "key|variable|window" -> {x, y}
let runTimer = null;
let championTimer = null;
// Tests and curious users read this: the state, when the first chart was drawn, and how many
// loads are in flight (0: the page shows everything it asked for).
window.dashboard = { state, firstChartAt: null, plotlyAt: null, renders: 0, busy: 0 };

// Plotly arrives async (index.html): data loads meanwhile, and drawing waits for it.
const plotlyReady = new Promise((resolve) => {
  if (window.Plotly) return resolve(true);
  const tag = document.getElementById("plotly-js");
  if (tag) {
    tag.addEventListener("load", () => resolve(true));
    tag.addEventListener("error", () => resolve(false));
  }
  window.addEventListener("load", () => resolve(Boolean(window.Plotly)));
});

// --- small helpers -------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function code(text) {
  return el("code", { text });
}

const fmtDate = (ts) => (ts ? ts.slice(0, 10) : "—");
const fmtDateTime = (ts) => (ts ? ts.slice(0, 16).replace("T", " ") : "—");

function fmtNum(value, digits = 4) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  if (abs >= 1e5) return value.toExponential(2);
  if (abs >= 100) return value.toFixed(1);
  return Number(value.toPrecision(digits)).toString();
}

function seriesKind(s) {
  const vars = s.variables || [];
  if (vars.includes("close") || s.source === "yahoo") return "stock";
  if (vars.some((v) => ["tmax", "tmin", "tavg", "temp", "prcp"].includes(v)) || s.source === "meteostat") return "weather";
  return s.source;
}

function defaultVariable(s) {
  for (const name of ["close", "tmax", "tavg", "temp", "ot"]) if (s.variables.includes(name)) return name;
  return s.variables[0] || null;
}

function windowStart(last, days) {
  if (days === "all" || !last) return null;
  const d = new Date(last.slice(0, 19) + "Z");
  d.setUTCDate(d.getUTCDate() - Number(days));
  return d.toISOString().slice(0, 19);
}

// --- the API -------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

async function api(path, { method = "GET", body, auth = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const key = apiKey();
    if (!key) throw new ApiError(401, "no API key entered");
    headers["X-API-Key"] = key;
  }
  let response;
  try {
    response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (exc) {
    throw new ApiError(0, `cannot reach the API at ${location.origin}: is the server running? (${exc.message})`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, (data && data.detail) || response.statusText);
  return data;
}

const enc = encodeURIComponent;

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

async function settle(promise) {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

// --- API key (entered once per tab) ----------------------------------------------------

function apiKey() {
  return sessionStorage.getItem(KEY_STORE);
}

function renderKey() {
  const has = Boolean(apiKey());
  $("key-form").hidden = has;
  $("key-state").hidden = !has;
}

function forgetKey() {
  sessionStorage.removeItem(KEY_STORE);
  renderKey();
}

function authMessage(error, action) {
  if (error.status === 401 && !apiKey()) return `${action} needs the API key: enter the server's FORECASTER_API_KEY in the "API key" box at the top right, then try again.`;
  if (error.status === 401) return `${action} was refused: the server did not receive an API key (${error.detail}).`;
  if (error.status === 403) return `Wrong API key: the server rejected it, so ${action.toLowerCase()} did not start. Enter the key set in the server's FORECASTER_API_KEY at the top right and try again.`;
  if (error.status === 503) return `${action} is disabled on this server: ${error.detail}.`;
  return null;
}

// --- banner --------------------------------------------------------------------------

function showBanner(message, kind = "error") {
  const banner = $("banner");
  banner.textContent = message;
  banner.className = kind === "error" ? "banner" : "banner info";
  banner.hidden = !message;
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
  const list = $("series-list");
  list.replaceChildren(
    ...state.series.map((s) => {
      const kind = seriesKind(s);
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            "data-key": s.key,
            "aria-current": s.key === state.key ? "true" : "false",
            onclick: () => selectSeries(s.key),
          },
          el("span", { class: "key", text: s.key }),
          el("span", { class: `kind ${kind}`, text: kind }),
          el("span", { class: "sub", text: `${s.source} · ${s.frequency} · last ${fmtDate(s.last)}` }),
        ),
      );
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

// --- loading a series ----------------------------------------------------------------

function currentSeries() {
  return state.series.find((s) => s.key === state.key) || null;
}

async function loadHistory(s, variable, days) {
  const cacheKey = `${s.key}|${variable}|${days}`;
  if (histories.has(cacheKey)) return histories.get(cacheKey);
  const x = [];
  const y = [];
  const start = windowStart(s.last, days);
  let offset = 0;
  for (;;) {
    const params = new URLSearchParams({ variables: variable, limit: PAGE_ROWS, offset });
    if (start) params.set("start", start);
    const page = await api(`/series/${enc(s.key)}/observations?${params}`);
    for (const row of page.data) {
      x.push(row.ts);
      y.push(row.value);
    }
    if (page.next_offset === null || page.next_offset === undefined) break;
    offset = page.next_offset;
  }
  const history = { x, y };
  histories.set(cacheKey, history);
  return history;
}

function forecastPath(key, strategy, model) {
  const params = new URLSearchParams({ strategy });
  if (model !== "champion") params.set("model", model);
  return `/forecasts/${enc(key)}?${params}`;
}

const selectSeries = tracked(async (key) => {
  if (key !== state.key) {
    state.key = key;
    state.model = "champion";
    state.variableChosen = false;
    state.variable = null;
    state.run = null;
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
const refreshSeries = tracked(async ({ quiet = false } = {}) => {
  const s = currentSeries();
  if (!s) return;
  const token = ++state.loadToken;
  if (!state.variable || !s.variables.includes(state.variable)) state.variable = defaultVariable(s);
  $("welcome").hidden = true;
  $("series-view").hidden = false;
  renderHeader(s);
  if (!quiet) $("chart-note").hidden = true;

  const wantVersion = state.model !== "champion";
  const [hist, rec, dir, models, shown] = await Promise.all([
    s.rows > 0 && state.variable ? settle(loadHistory(s, state.variable, state.windowDays)) : Promise.resolve({ value: { x: [], y: [] } }),
    settle(api(forecastPath(s.key, "recursive", "champion"))),
    settle(api(forecastPath(s.key, "direct", "champion"))),
    settle(api(`/models?series=${enc(s.key)}`)),
    wantVersion ? settle(api(forecastPath(s.key, state.strategy, state.model))) : Promise.resolve(null),
  ]);
  if (token !== state.loadToken) return; // a newer selection won
  state.champions = { recursive: toResult(rec), direct: toResult(dir) };
  state.models = models.value ? models.value.data : [];
  if (models.error) showBanner(`Could not list the model versions: ${models.error.detail}`);
  // open on a strategy that has a champion when the chosen one has none
  if (!wantVersion && !state.champions[state.strategy].forecast) {
    const other = state.strategy === "recursive" ? "direct" : "recursive";
    if (state.champions[other].forecast) state.strategy = other;
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

function toResult(settled) {
  if (!settled) return { error: new ApiError(0, "not loaded") };
  return settled.error ? { error: settled.error } : { forecast: settled.value };
}

const refreshShown = tracked(async () => {
  const s = currentSeries();
  if (!s) return;
  const token = ++state.loadToken;
  if (state.model === "champion") {
    state.shown = state.champions[state.strategy] || { error: new ApiError(0, "not loaded") };
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
  const ready = await plotlyReady;
  window.dashboard.plotlyAt = window.dashboard.plotlyAt || performance.now();
  if (!ready || typeof Plotly === "undefined") {
    showBanner("The chart library did not load (GET /vendor/plotly.min.js failed): is the plotly package installed on the server?");
    return;
  }
  renderAll();
}

function renderAll() {
  renderControls();
  renderChart();
  renderErrors();
  renderAttention();
  renderModels();
  renderRun();
}

function renderHeader(s) {
  $("series-title").textContent = s.key;
  const params = Object.entries(s.params || {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  $("series-meta").textContent =
    s.rows > 0
      ? `${seriesKind(s)} · source ${s.source}${params ? ` (${params})` : ""} · frequency ${s.frequency} · ${fmtDate(s.first)} to ${fmtDate(s.last)} · variables ${s.variables.join(", ")}`
      : `source ${s.source} · no observations yet`;
  $("retrain").textContent = `Retrain ${s.key}`;
}

function renderControls() {
  const s = currentSeries();
  const variable = $("variable");
  variable.replaceChildren(...s.variables.map((v) => el("option", { value: v, text: v, selected: v === state.variable })));
  variable.disabled = s.variables.length < 2;
  $("window").value = state.windowDays;
  for (const radio of document.querySelectorAll('input[name="strategy"]')) {
    radio.checked = radio.value === state.strategy;
    const has = Boolean(state.champions[radio.value] && state.champions[radio.value].forecast);
    radio.parentElement.title = has ? "" : `no ${radio.value} champion yet`;
  }
  const usable = state.models.filter((m) => m.strategy === state.strategy && m.status !== "failed");
  const champion = state.champions[state.strategy] && state.champions[state.strategy].forecast;
  const model = $("model");
  model.replaceChildren(
    el("option", { value: "champion", text: champion ? `champion (#${champion.model.id} ${champion.model.architecture})` : "champion (none yet)" }),
    ...usable.filter((m) => m.status !== "champion").map((m) => el("option", { value: String(m.id), text: `#${m.id} ${m.architecture} (${m.status})` })),
  );
  model.value = state.model;
  if (model.value !== state.model) model.value = "champion";
  $("overlay").checked = state.overlay;
}

function modelLabel(m) {
  return `${m.architecture} ${m.strategy} #${m.id}${m.status === "champion" ? " (champion)" : ""}`;
}

function lastObserved(history, before) {
  for (let i = history.y.length - 1; i >= 0; i--) {
    if (history.y[i] !== null && (!before || history.x[i] <= before)) return { ts: history.x[i], value: history.y[i] };
  }
  return null;
}

function forecastTraces(fc, variable, { role, color, dash = "solid", band = false }) {
  const pts = fc.points.filter((p) => p.variable === variable).sort((a, b) => a.step - b.step);
  if (!pts.length) return [];
  const x = pts.map((p) => p.ts);
  const traces = [];
  if (band && pts.some((p) => p.lower !== null && p.upper !== null)) {
    const level = Math.round(fc.level * 100);
    traces.push(
      { uid: `${role}-upper`, type: "scatter", mode: "lines", x, y: pts.map((p) => p.upper), line: { width: 0, color }, hoverinfo: "skip", showlegend: false },
      {
        uid: `${role}-lower`,
        name: `${level}% interval`,
        type: "scatter",
        mode: "lines",
        x,
        y: pts.map((p) => p.lower),
        fill: "tonexty",
        fillcolor: COLORS.band,
        line: { width: 0, color },
        hovertemplate: `%{x|%Y-%m-%d}: lower %{y:.4g}<extra>${level}% interval</extra>`,
      },
    );
  }
  traces.push({
    uid: role,
    name: `${fc.strategy} forecast: ${fc.model.architecture} #${fc.model.id}`,
    type: "scatter",
    mode: "lines+markers",
    x,
    y: pts.map((p) => p.value),
    line: { color, width: role === "forecast" ? 2.4 : 1.8, dash },
    marker: { size: role === "forecast" ? 5 : 4, color },
    meta: { strategy: fc.strategy, model: fc.model.id },
    hovertemplate: `%{x|%Y-%m-%d}: %{y:.4g}<extra>${fc.strategy} #${fc.model.id}</extra>`,
  });
  return traces;
}

function renderChart() {
  const chart = $("chart");
  const s = currentSeries();
  const variable = state.variable;
  const history = state.history;
  const shown = state.shown && state.shown.forecast;
  const notes = [];
  const traces = [
    {
      uid: "history",
      name: `${variable} observed`,
      type: "scatter",
      mode: "lines",
      x: history.x,
      y: history.y,
      line: { color: COLORS.history, width: 1.4 },
      connectgaps: false,
      hovertemplate: "%{x|%Y-%m-%d}: %{y:.4g}<extra>observed</extra>",
    },
  ];
  if (s.rows > 0 && !history.y.some((y) => y !== null)) {
    notes.push([`No observed values of ${variable} in this window: the source reports it empty here. Pick another variable or a longer history.`]);
  }
  if (s.rows === 0) {
    notes.push(["No observations yet for ", s.key, ": click ", el("b", { text: "Fetch new data" }), " (needs the API key) or run ", code(`forecaster ingest`), " on the server."]);
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
  // reference timestamps of the forecast steps, for the naive baseline
  let stepsTs = [];
  if (state.overlay) {
    for (const strategy of ["recursive", "direct"]) {
      const fc = state.champions[strategy] && state.champions[strategy].forecast;
      if (!fc || (shown && fc.model.id === shown.model.id)) continue;
      traces.push(...forecastTraces(fc, variable, { role: `overlay-${strategy}`, color: COLORS[strategy], dash: "dash" }));
    }
  }
  const reference = shown || ["recursive", "direct"].map((k) => state.champions[k] && state.champions[k].forecast).find(Boolean);
  if (reference) stepsTs = [...new Set(reference.points.map((p) => p.ts))].sort();
  const origin = reference ? reference.issued_at : null;
  if (state.overlay) {
    const last = lastObserved(history, origin);
    if (last && stepsTs.length) {
      traces.push({
        uid: "naive",
        name: `naive: last value carried flat (${fmtNum(last.value)})`,
        type: "scatter",
        mode: "lines",
        x: [last.ts, ...stepsTs],
        y: [last.value, ...stepsTs.map(() => last.value)],
        line: { color: COLORS.naive, width: 1.6, dash: "dot" },
        hovertemplate: `%{x|%Y-%m-%d}: %{y:.4g}<extra>naive (last value)</extra>`,
      });
    } else if (!stepsTs.length) {
      notes.push(["The naive baseline needs the forecast steps' dates: there is no forecast for this series yet."]);
    }
  }

  const note = $("chart-note");
  note.hidden = notes.length === 0;
  note.replaceChildren(...notes.map((parts) => el("div", {}, ...parts)));

  const layout = {
    margin: { l: 60, r: 20, t: 36, b: 40 },
    font: FONT,
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    hovermode: "x unified",
    showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 12 }, traceorder: "normal" },
    xaxis: { type: "date", gridcolor: "#eef0f3", automargin: true },
    yaxis: { title: { text: variable || "" }, gridcolor: "#eef0f3", zeroline: false, automargin: true },
    shapes: [],
    annotations: [],
    uirevision: `${s.key}|${variable}|${state.windowDays}`,
  };
  if (origin) {
    layout.shapes.push({ type: "line", xref: "x", yref: "paper", x0: origin, x1: origin, y0: 0, y1: 1, line: { color: "#9aa5b1", width: 1.2, dash: "dot" } });
    layout.annotations.push({ x: origin, xref: "x", y: 1, yref: "paper", yanchor: "bottom", text: `forecast origin ${fmtDate(origin)}`, showarrow: false, font: { size: 11, color: "#66707a" }, xanchor: "right" });
  }
  focusView(layout, traces, history);
  Plotly.react(chart, traces, layout, PLOT_CONFIG);
  window.dashboard.renders += 1;
  if (window.dashboard.firstChartAt === null && history.x.length) {
    window.dashboard.firstChartAt = performance.now();
    window.dashboard.firstChartSeries = s.key;
  }
  chart.dataset.series = s.key;
  chart.dataset.variable = variable || "";
  chart.dataset.shownModel = shown ? String(shown.model.id) : "";
}

// Opens on the recent history plus the forecast; the whole window stays a double-click away.
function focusView(layout, traces, history) {
  const n = history.x.length;
  if (n < FOCUS_ROWS * 1.5) return; // short: autorange shows it all
  const x0 = history.x[n - FOCUS_ROWS];
  let x1 = history.x[n - 1];
  let lo = Infinity;
  let hi = -Infinity;
  for (const trace of traces) {
    for (let i = 0; i < trace.x.length; i++) {
      const y = trace.y[i];
      if (trace.x[i] < x0 || y === null || y === undefined || !Number.isFinite(y)) continue;
      if (trace.x[i] > x1) x1 = trace.x[i];
      lo = Math.min(lo, y);
      hi = Math.max(hi, y);
    }
  }
  if (!Number.isFinite(lo)) return;
  const span = Math.max(hi - lo, Math.abs(hi) * 0.01, 1e-9);
  const end = new Date(x1.slice(0, 19) + "Z");
  const start = new Date(x0.slice(0, 19) + "Z");
  end.setTime(end.getTime() + (end - start) * 0.03);
  layout.xaxis.range = [x0, end.toISOString().slice(0, 19)];
  layout.yaxis.range = [lo - span * 0.08, hi + span * 0.08];
}

function shownErrorNote(s, error) {
  if (error.status === 409) {
    const strategy = state.strategy;
    const other = strategy === "recursive" ? "direct" : "recursive";
    const hasOther = Boolean(state.champions[other] && state.champions[other].forecast);
    return [
      `No ${strategy} champion yet for ${s.key}. `,
      hasOther ? `Switch the strategy to ${other}, or click ` : "Click ",
      el("b", { text: `Retrain ${s.key}` }),
      " to train candidates (needs the API key), or run ",
      code(`forecaster retrain ${s.key}`),
      " on the server.",
    ];
  }
  return [`No forecast: ${error.detail}`];
}

// --- errors by step ------------------------------------------------------------------

const METRICS = [
  ["mae", "MAE"],
  ["rmse", "RMSE"],
  ["mape", "MAPE %"],
  ["mase", "MASE"],
];
const WHO = [
  ["model", "model"],
  ["naive", "naive"],
  ["seasonal_naive", "s. naive"],
];

function renderErrors() {
  const fc = state.shown && state.shown.forecast;
  const empty = $("errors-empty");
  const body = $("errors-body");
  const skill = $("skill");
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
  const pooled = rows.find((m) => m.step === 0);
  body.hidden = false;
  empty.hidden = true;
  $("errors-subtitle").textContent = `· ${modelLabel(fc.model)} on ${variable}, ${fc.metrics_split} (${steps.length} steps)`;
  skill.hidden = !fc.skill;
  skill.textContent = fc.skill || "";
  skill.className = "skill " + (fc.skill && fc.skill.includes("does not beat") ? "no-skill" : "has-skill");

  // the table first: the chart takes the width the table leaves
  const head1 = el("tr", {}, el("th", { rowspan: 2, text: "step" }), ...METRICS.map(([, name]) => el("th", { colspan: 3, class: "group", text: name })));
  const head2 = el("tr", {}, ...METRICS.flatMap(() => WHO.map(([, name], i) => el("th", { class: i === 0 ? "group" : null, text: name }))));
  const row = (m, label, cls) =>
    el(
      "tr",
      { class: cls },
      el("td", { text: label }),
      ...METRICS.flatMap(([k]) =>
        WHO.map(([who], i) => {
          const value = m[who][k];
          let mark = null;
          if (who === "model" && value !== null && value !== undefined && m.naive[k] !== null && m.naive[k] !== undefined) mark = value < m.naive[k] ? "better" : "worse";
          return el("td", { class: [i === 0 ? "group" : "", mark || ""].join(" ").trim() || null, text: fmtNum(value, 3) });
        }),
      ),
    );
  const table = $("errors-table");
  const coverage = pooled && pooled.model.coverage;
  table.replaceChildren(
    el("thead", {}, head1, head2),
    el("tbody", {}, ...steps.map((m) => row(m, String(m.step))), pooled ? row(pooled, "all", "pooled") : null),
    el("caption", { text: `Backtest errors per step, on the original scale; green: the model beats the naive forecast (last value carried flat).${coverage !== null && coverage !== undefined ? ` ${Math.round(fc.level * 100)}% interval coverage measured: ${Math.round(coverage * 100)}%.` : ""}` }),
  );

  const metric = state.errorMetric;
  const label = METRICS.find(([k]) => k === metric)[1];
  const traces = WHO.map(([who, name]) => ({
    uid: `error-${who}`,
    name: who === "model" ? `model #${fc.model.id}` : name,
    type: "scatter",
    mode: "lines+markers",
    x: steps.map((m) => m.step),
    y: steps.map((m) => m[who][metric] ?? null),
    line: { color: who === "model" ? COLORS.forecast : who === "naive" ? COLORS.naive : COLORS.seasonal, dash: who === "model" ? "solid" : "dot", width: 2 },
    marker: { size: 5 },
  }));
  Plotly.react(
    $("errors-chart"),
    traces,
    {
      margin: { l: 50, r: 10, t: 30, b: 40 },
      font: FONT,
      xaxis: { title: { text: "forecast step" }, dtick: 1, gridcolor: "#eef0f3" },
      yaxis: { title: { text: label }, rangemode: "tozero", gridcolor: "#eef0f3" },
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      showlegend: true,
      hovermode: "x unified",
    },
    { ...PLOT_CONFIG, displayModeBar: false },
  );
}

// --- attention heatmap ---------------------------------------------------------------

function renderAttention() {
  const fc = state.shown && state.shown.forecast;
  const card = $("attention-card");
  if (!fc || !fc.attention || !fc.attention.weights.length) {
    card.hidden = true;
    Plotly.purge($("attention"));
    return;
  }
  card.hidden = false;
  const w = fc.attention.weights; // (H, L)
  const x = fc.attention.lookback_ts.length === w[0].length ? fc.attention.lookback_ts : w[0].map((_, i) => i - w[0].length + 1);
  $("attention-subtitle").textContent = `· ${modelLabel(fc.model)}, issued at ${fmtDate(fc.issued_at)}: which of the last ${w[0].length} steps each forecast step looked at`;
  Plotly.react(
    $("attention"),
    [
      {
        uid: "attention",
        type: "heatmap",
        z: w,
        x,
        y: w.map((_, i) => `t+${i + 1}`),
        colorscale: [
          [0, "#f4f8fc"],
          [1, "#0b3d73"],
        ], // darker: looked at more
        colorbar: { title: { text: "weight" }, thickness: 12 },
        hovertemplate: "input %{x}<br>forecast step %{y}<br>weight %{z:.3f}<extra></extra>",
      },
    ],
    {
      margin: { l: 50, r: 10, t: 10, b: 40 },
      font: FONT,
      xaxis: { title: { text: "lookback (input) step" } },
      yaxis: { title: { text: "forecast step" }, autorange: "reversed" },
    },
    { ...PLOT_CONFIG, displayModeBar: false },
  );
}

// --- model versions ------------------------------------------------------------------

function renderModels() {
  const table = $("models-table");
  const empty = $("models-empty");
  const s = currentSeries();
  const shownId = state.shown && state.shown.forecast ? state.shown.forecast.model.id : null;
  if (!state.models.length) {
    table.replaceChildren();
    empty.hidden = false;
    empty.replaceChildren("No model versions yet for ", s.key, ": click ", el("b", { text: `Retrain ${s.key}` }), " (needs the API key) to train the candidates of the retrain config, or run ", code(`forecaster retrain ${s.key}`), " on the server.");
    return;
  }
  empty.hidden = true;
  const head = el("tr", {}, ...["version", "architecture", "strategy", "status", "trained (UTC)", "on data", "key metric", ""].map((t) => el("th", { text: t })));
  const rows = state.models.map((m) => {
    const score = m.primary_metric ? `${m.primary_metric.toUpperCase()} ${fmtNum(m.primary_score)}` : "—";
    const range = m.train_start ? `${fmtDate(m.train_start)} to ${fmtDate(m.train_end)}` : "—";
    const actions = el("td", {});
    if (m.status !== "failed") {
      actions.append(
        el("button", {
          type: "button",
          class: "small",
          "data-action": "show",
          disabled: m.id === shownId,
          text: m.id === shownId ? "shown" : "show",
          onclick: () => {
            state.strategy = m.strategy;
            state.model = m.status === "champion" ? "champion" : String(m.id);
            refreshShown();
          },
        }),
      );
    }
    if (m.status !== "champion" && m.status !== "failed") {
      actions.append(" ", el("button", { type: "button", class: "small", "data-action": "promote", text: "promote", onclick: () => promote(m) }));
    }
    return el(
      "tr",
      { class: [m.status === "champion" ? "champion" : "", m.id === shownId ? "shown" : ""].join(" ").trim() || null, "data-version": m.id, "data-status": m.status },
      el("td", { text: `#${m.id}` }),
      el("td", { text: m.architecture }),
      el("td", { text: m.strategy }),
      el("td", {}, el("span", { class: `badge ${m.status}`, text: m.status === "champion" ? "★ champion" : m.status })),
      el("td", { text: fmtDateTime(m.created_at) }),
      el("td", { text: range }),
      m.status === "failed" ? el("td", { class: "err", text: (m.error || "failed").split("\n")[0] }) : el("td", { text: score }),
      actions,
    );
  });
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}

const promote = tracked(async (m) => {
  if (!apiKey()) {
    showBanner(authMessage(new ApiError(401, ""), "Promoting"));
    $("key-input").focus();
    return;
  }
  const { error } = await settle(api(`/models/${m.id}/promote`, { method: "POST", auth: true }));
  if (error) {
    const message = authMessage(error, "Promoting");
    if (error.status === 403) forgetKey();
    showBanner(message || `Could not promote #${m.id}: ${error.detail}`);
    return;
  }
  showBanner("");
  state.strategy = m.strategy;
  state.model = "champion";
  await refreshSeries();
});

// --- runs ----------------------------------------------------------------------------

const startRun = tracked(async (kind) => {
  const s = currentSeries();
  const action = kind === "retrain" ? "Retraining" : "Fetching new data";
  if (!apiKey()) {
    showBanner(authMessage(new ApiError(401, ""), action));
    $("key-input").focus();
    return;
  }
  $("retrain").disabled = true;
  $("ingest").disabled = true;
  const { value, error } = await settle(api("/runs", { method: "POST", body: { kind, series: [s.key] }, auth: true }));
  if (error) {
    $("retrain").disabled = false;
    $("ingest").disabled = false;
    const message = authMessage(error, action);
    if (error.status === 403) forgetKey();
    showBanner(message || `Could not start the ${kind} run: ${error.detail}`);
    return;
  }
  showBanner("");
  state.run = value;
  renderRun();
  pollRun(value.id, s.key);
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
      showBanner(`Lost track of run ${runId}: ${error.detail}`);
      return;
    }
    state.run = value;
    renderRun();
    if (value.status === "pending" || value.status === "running") {
      pollRun(runId, key);
      return;
    }
    // finished: new versions (and maybe a new champion) or new data
    histories.clear();
    await loadSeriesList();
    await refreshSeries({ quiet: true });
  }, RUN_POLL_MS);
}

// The latest run touching this series: shown, and followed if it is still going.
async function watchRuns() {
  const key = state.key;
  const { value } = await settle(api("/runs?limit=50"));
  if (!value || key !== state.key || (state.run && state.run.id)) return;
  const mine = value.data.find((r) => r.kind !== "forecast" && (!(r.parameters.series || []).length || r.parameters.series.includes(key)));
  if (!mine) return;
  state.run = mine;
  renderRun();
  if (mine.status === "pending" || mine.status === "running") pollRun(mine.id, key);
}

function renderRun() {
  const box = $("run-status");
  const run = state.run;
  const active = Boolean(run && (run.status === "pending" || run.status === "running"));
  $("retrain").disabled = active;
  $("ingest").disabled = active;
  if (!run) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.className = `run-status ${run.status}`;
  box.dataset.status = run.status;
  box.dataset.run = run.id;
  const took = run.duration_s !== null && run.duration_s !== undefined ? ` ${run.duration_s.toFixed(1)} s` : "";
  const what = `${run.kind} run #${run.id}`;
  if (active) {
    box.textContent = `${what}: ${run.status}${took ? `, ${took} so far` : ""}… (this page follows it and refreshes when it is done)`;
  } else if (run.status === "completed") {
    const promoted = run.result.promoted || [];
    const versions = run.versions || [];
    let detail = "";
    if (run.kind === "retrain") {
      detail = promoted.length
        ? ` trained ${versions.map((v) => `#${v}`).join(", ")}; promoted ${promoted.map((v) => `#${v}`).join(", ")} to champion.`
        : ` trained ${versions.map((v) => `#${v}`).join(", ") || "nothing"}; none beat the champion, which stays.`;
    }
    box.textContent = `${what} completed in${took} (${fmtDateTime(run.finished_at)}).${detail}`;
  } else {
    box.textContent = `${what} failed${took ? ` after${took}` : ""}: ${run.error || "no reason recorded"}`;
  }
}

// --- champions changed elsewhere -------------------------------------------------------

function watchChampions() {
  if (championTimer) clearInterval(championTimer);
  championTimer = setInterval(async () => {
    if (document.hidden || !state.key || runTimer) return;
    const key = state.key;
    const { value } = await settle(api(`/models?series=${enc(key)}&status=champion`));
    if (!value || key !== state.key) return;
    const now = value.data.map((m) => m.id).sort().join(",");
    const before = state.models
      .filter((m) => m.status === "champion")
      .map((m) => m.id)
      .sort()
      .join(",");
    if (now !== before) await refreshSeries({ quiet: true });
  }, CHAMPION_POLL_MS);
}

// --- wiring --------------------------------------------------------------------------

function wire() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("key-input").value.trim();
    $("key-input").value = "";
    if (!value) return;
    sessionStorage.setItem(KEY_STORE, value);
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
  const wanted = new URL(location.href).searchParams.get("series");
  const first = state.series.find((s) => s.key === wanted) || state.series[0];
  if (first) await selectSeries(first.key);
  watchChampions();
});

wire();
init();
