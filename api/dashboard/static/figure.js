// The main chart: the history, the shown forecast, the overlays and the notes under it, drawn
// by Plotly or, while Plotly still compiles, as a static SVG preview.

import { modelLabel } from "./api.js";
import { COLORS, PLOT_CONFIG, chartLayout, forecastTraces, historyTrace, historyView, lastObserved, naiveTrace } from "./charts.js";
import { drawPreview } from "./preview.js";
import { $, code, el, fmtDate, fmtNum } from "./dom.js";
import { STRATEGIES, championOf, currentSeries, on, state } from "./state.js";

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
    const fetch = el("button", { type: "button", class: "primary", id: "fetch-now", text: `Fetch ${s.key}'s data`, onclick: () => on.startRun("ingest") });
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

export function renderPreview() {
  const { traces, layout } = chartFigure();
  const preview = $("chart-preview");
  preview.hidden = !drawPreview(preview, traces, layout);
  if (!preview.hidden) {
    window.dashboard.previews += 1;
    markPainted();
  }
}

export function renderChart() {
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
