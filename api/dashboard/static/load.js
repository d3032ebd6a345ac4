// Loading: reads what the view shows from the API into the state, then draws it.

import { api, defaultVariable, enc, forecastPath, readHistory, settle, windowStart } from "./api.js";
import { $, showBanner } from "./dom.js";
import { draw, renderHeader, renderSeriesList } from "./render.js";
import { NOT_LOADED, STRATEGIES, currentSeries, histories, state, toResult, tracked } from "./state.js";

export async function loadSeriesList() {
  const { value, error } = await settle(api("/series"));
  if (error) {
    showBanner(`Could not list the series: ${error.detail}`);
    return;
  }
  state.series = value.data;
  renderSeriesList();
}

// Every load is keyed by what it loads ("series:AAPL", "history:AAPL|close|recent",
// "forecast:AAPL|direct|12"). A refresh asks for the keys its selection needs: one already in
// flight is shared, and one that the newest refresh does not need is cancelled (its fetches
// aborted), so a slow answer for a selection the user has left never lands.
const inflight = new Map(); // key -> {promise, controller}
let current = null; // the newest refresh's AbortController: an older refresh stops at its next step
let seriesStale = false; // refreshSeries asked for the series' champions and models anew

function need(key, fetcher) {
  let entry = inflight.get(key);
  if (!entry) {
    const controller = new AbortController();
    entry = { controller, promise: settle(fetcher(controller.signal)) };
    inflight.set(key, entry);
    const mine = entry;
    entry.promise.then(() => inflight.get(key) === mine && inflight.delete(key));
  }
  return entry.promise;
}

function cancel(keep) {
  for (const [key, entry] of inflight) {
    if (keep(key)) continue;
    entry.controller.abort();
    inflight.delete(key);
  }
}

// "recent" shows a few forecast lengths: a year is loaded, so zooming out has data
function loadHistory(s, variable, days) {
  const cacheKey = `${s.key}|${variable}|${days}`;
  if (s.timestamps === 0 || !variable) return Promise.resolve({ value: { x: [], y: [] } });
  if (histories.has(cacheKey)) return Promise.resolve({ value: histories.get(cacheKey) });
  const start = windowStart(s.last, days === "recent" ? "366" : days);
  return need(`history:${cacheKey}`, async (signal) => {
    const history = await readHistory(s.key, variable, start, signal);
    histories.set(cacheKey, history); // a failure is not cached
    return history;
  });
}

// Both strategies' champion forecasts and the model versions of one series.
function loadSeriesData(key) {
  return need(`series:${key}`, async (signal) => {
    const [rec, dir, models] = await Promise.all([
      settle(api(forecastPath(key, "recursive", "champion"), { signal })),
      settle(api(forecastPath(key, "direct", "champion"), { signal })),
      settle(api(`/models?series=${enc(key)}`, { signal })),
    ]);
    if (signal.aborted) throw new DOMException("superseded", "AbortError");
    return { rec, dir, models };
  });
}

function loadVersion(key, strategy, model) {
  return need(`forecast:${key}|${strategy}|${model}`, (signal) => api(forecastPath(key, strategy, model), { signal }));
}

// Loads what the selection shows (whatever it already holds for this series is reused), then
// commits it with the selection it belongs to (state.view) and draws it. A newer refresh
// supersedes this one: it returns without touching the state.
export const refresh = tracked(async ({ fresh = false } = {}) => {
  const s = currentSeries();
  if (!s) return;
  if (current) current.abort();
  const superseded = (current = new AbortController()).signal;
  if (fresh) {
    seriesStale = true;
    cancel((k) => k !== `series:${s.key}` && !k.startsWith(`forecast:${s.key}|`));
  }
  if (!state.variable || !s.variables.includes(state.variable)) state.variable = defaultVariable(s);
  $("welcome").hidden = true;
  $("series-view").hidden = false;
  renderHeader(s);

  const view = state.view;
  const sameSeries = !seriesStale && view !== null && view.key === s.key;
  const wantVersion = state.model !== "champion";
  const sameShown = sameSeries && view.strategy === state.strategy && view.model === state.model;
  const keep = new Set([`series:${s.key}`, `history:${s.key}|${state.variable}|${state.windowDays}`, `forecast:${s.key}|${state.strategy}|${state.model}`]);
  const loads = [
    loadHistory(s, state.variable, state.windowDays),
    sameSeries ? null : loadSeriesData(s.key),
    wantVersion && !sameShown ? loadVersion(s.key, state.strategy, state.model) : null,
  ];
  cancel((k) => keep.has(k));
  const [hist, data, version] = await Promise.all(loads);
  if (superseded.aborted) return; // a newer selection won: it loads and draws its own

  let { champions, models, shown } = state;
  let { strategy, variable } = state;
  if (data) {
    if (data.error) return; // cancelled by a fresher load of the same series
    const { rec, dir } = data.value;
    champions = { recursive: toResult(rec), direct: toResult(dir) };
    models = data.value.models.value ? data.value.models.value.data : [];
    if (data.value.models.error) showBanner(`Could not list the model versions: ${data.value.models.error.detail}`);
    // open on a strategy that has a champion when the chosen one has none
    const has = (k) => Boolean(champions[k].forecast);
    if (!wantVersion && !has(strategy)) strategy = STRATEGIES.find((k) => k !== strategy && has(k)) || strategy;
  }
  if (wantVersion) shown = sameShown ? shown : toResult(version);
  else shown = champions[strategy] || NOT_LOADED;
  let history = hist.value || { x: [], y: [] };
  if (hist.error) showBanner(`Could not read the observations of ${s.key}: ${hist.error.detail}`);

  // a model forecasting another variable than the default one, on opening: show what it forecasts
  const targets = shown.forecast ? shown.forecast.model.targets : [];
  if (data && !state.variableChosen && targets.length && !targets.includes(variable) && s.variables.includes(targets[0])) {
    variable = targets[0];
    const again = await loadHistory(s, variable, state.windowDays);
    if (superseded.aborted) return;
    history = again.value || { x: [], y: [] };
  }
  Object.assign(state, { champions, models, shown, strategy, variable, history });
  state.view = { key: s.key, variable, windowDays: state.windowDays, strategy, model: state.model };
  if (data) seriesStale = false;
  await draw();
});

// The series' champions, models and shown forecast read anew (a new series, a promotion, a run).
export const refreshSeries = () => refresh({ fresh: true });
