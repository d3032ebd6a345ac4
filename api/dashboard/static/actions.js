// Actions: what the user does (pick a series, promote, start a run) and the polling that
// follows runs and champions.

import { ApiError, api, apiKey, authMessage, clearKey, enc, settle } from "./api.js";
import { $, showBanner } from "./dom.js";
import { loadSeriesList, refreshSeries } from "./load.js";
import { renderKey, renderRun, renderSeriesList } from "./render.js";
import { isActive } from "./panels.js";
import { currentSeries, histories, state, tracked } from "./state.js";

const RUN_POLL_MS = 1000;
const CHAMPION_POLL_MS = 20000; // notices a champion promoted elsewhere (CLI, schedule, another tab)
let runTimer = null;
let championTimer = null;

// --- API key -------------------------------------------------------------------------

export function forgetKey() {
  clearKey();
  renderKey();
}

// Runs a mutating call with the key; says what to do when there is none or it is refused.
export async function withKey(action, call) {
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

// --- series --------------------------------------------------------------------------

export const selectSeries = tracked(async (key) => {
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

// --- runs and champions --------------------------------------------------------------

export const promote = tracked(async (m) => {
  const done = await withKey("Promoting", () => api(`/models/${m.id}/promote`, { method: "POST", auth: true }));
  if (!done) return;
  state.strategy = m.strategy;
  state.model = "champion";
  await refreshSeries();
});

export const startRun = tracked(async (kind) => {
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

export function watchChampions() {
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
