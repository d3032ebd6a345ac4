// The dashboard's state: what is selected and what was loaded for it. Every other module reads
// and writes this one object; it imports nothing of theirs.

import { ApiError } from "./api.js";

export const STRATEGIES = ["recursive", "direct"];
export const NOT_LOADED = { error: new ApiError(0, "not loaded") };

export const state = {
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
  // the selection the loaded data above (history, champions, shown, models) belongs to, set with
  // it: {key, variable, windowDays, strategy, model}; drawn only while it is the selection
  view: null,
};
export const histories = new Map(); // "key|variable|window" -> {x, y}
// Tests and curious users read this: the state, when the first chart was drawn, and how many
// loads are in flight (0: the page shows everything it asked for).
// firstPaintAt: history (and forecast) first on screen, as the preview or the plotly chart;
// firstChartAt: the first interactive plotly chart.
window.dashboard = { state, firstPaintAt: null, firstChartAt: null, plotlyAt: null, previews: 0, renders: 0, busy: 0 };

// What the rendered controls call (selectSeries, refresh, promote, startRun, init):
// dashboard.js fills it, so that rendering imports no action and there is no import circle.
export const on = {};

// Counts a load or an action from start to drawn, so "idle" means the page is up to date.
export function tracked(fn) {
  return async (...args) => {
    window.dashboard.busy += 1;
    try {
      return await fn(...args);
    } finally {
      window.dashboard.busy -= 1;
    }
  };
}

export const currentSeries = () => state.series.find((s) => s.key === state.key) || null;
export const toResult = (settled) => (!settled ? NOT_LOADED : settled.error ? { error: settled.error } : { forecast: settled.value });
// The loaded data is the selection's: no other series' (or variable's, strategy's) numbers.
export const inView = () => state.view !== null && Object.entries(state.view).every(([k, v]) => state[k] === v);
export const championOf = (strategy) => (state.champions[strategy] && state.champions[strategy].forecast) || null;
