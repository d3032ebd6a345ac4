// Rendering: draws the state into the page. Reads the state, never loads; the controls it
// draws call the actions through `on` (state.js).

import { apiKey, modelLabel, seriesKind } from "./api.js";
import { plotAttention, plotErrors } from "./plots.js";
import { $, code, el, fmtDate, showBanner } from "./dom.js";
import { renderAccuracy } from "./accuracy.js";
import { renderChart, renderPreview } from "./figure.js";
import { errorsTable, isActive, modelsTable, runSummary } from "./panels.js";
import { championOf, currentSeries, inView, on, state } from "./state.js";

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

// --- the view --------------------------------------------------------------------------

// Draws the loaded data only while it is the selection's; otherwise the refresh on its way draws.
export async function draw() {
  if (!inView()) return;
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
  if (!inView()) return; // the selection moved on while plotly loaded
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

export function renderKey() {
  const has = Boolean(apiKey());
  $("key-form").hidden = has;
  $("key-state").hidden = !has;
}

export function renderSeriesList() {
  $("series-list").replaceChildren(
    ...state.series.map((s) => {
      const kind = seriesKind(s);
      const button = el(
        "button",
        { type: "button", "data-key": s.key, "aria-current": s.key === state.key ? "true" : "false", onclick: () => on.selectSeries(s.key) },
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
      el("p", {}, el("button", { type: "button", onclick: () => on.init(), text: "Reload" })),
    );
  } else if (!state.key) {
    welcome.hidden = false;
    welcome.replaceChildren(el("h2", { text: "Pick a series" }), el("p", { text: "Choose a stock or weather series on the left to see its history, forecasts and errors." }));
  }
}

export function renderHeader(s) {
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
    ...others.map((m) => el("option", { value: String(m.id), text: `#${m.id} ${m.label || m.architecture} (${m.status})` })),
  );
  model.value = state.model;
  if (model.value !== state.model) model.value = "champion";
  $("overlay").checked = state.overlay;
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
    on.refresh();
  };
  $("models-table").replaceChildren(...modelsTable(state.models, shownId, { onShow, onPromote: on.promote }));
}

export function renderRun() {
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
