// Loading: reads what the view shows from the API into the state, then draws it.

import { api, defaultVariable, enc, forecastPath, readHistory, settle, windowStart } from "./api.js";
import { $, showBanner } from "./dom.js";
import { draw, renderHeader, renderSeriesList } from "./render.js";
import { NOT_LOADED, STRATEGIES, championOf, currentSeries, histories, state, toResult, tracked } from "./state.js";

export async function loadSeriesList() {
  const { value, error } = await settle(api("/series"));
  if (error) {
    showBanner(`Could not list the series: ${error.detail}`);
    return;
  }
  state.series = value.data;
  renderSeriesList();
}

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

// Reads everything the view shows, in parallel, then draws it once.
export const refreshSeries = tracked(async () => {
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

export const refreshShown = tracked(async () => {
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

export const refreshHistory = tracked(async () => {
  const s = currentSeries();
  if (!s) return;
  const token = ++state.loadToken;
  const result = await settle(loadHistory(s, state.variable, state.windowDays));
  if (token !== state.loadToken) return;
  if (result.error) showBanner(`Could not read the observations of ${s.key}: ${result.error.detail}`);
  state.history = result.value || { x: [], y: [] };
  await draw();
});
