// "Forecasts vs what happened": the forecasts served at recent origins drawn over the actuals,
// and the live error by step beside the backtest's (GET /series/{key}/accuracy, /forecast-log).
// Its own module and card, so the rest of the dashboard only calls renderAccuracy().

import { api, enc } from "./api.js";
import { COLORS, PLOT_CONFIG } from "./charts.js";
import { $, el, fmtDate, fmtNum } from "./dom.js";

const ORIGINS = 20; // recent origins drawn
const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif", size: 12, color: "#1f2933" };
const GRID = "#eef0f3";
const SMALL = { ...PLOT_CONFIG, displayModeBar: false };
let token = 0;

// key, strategy and variable of the shown view; draws into #accuracy-card.
export async function renderAccuracy(key, strategy, variable) {
  const mine = ++token;
  const [report, past] = await Promise.all([
    api(`/series/${enc(key)}/accuracy?strategy=${strategy}`).catch((e) => ({ error: e })),
    api(`/series/${enc(key)}/forecast-log?strategy=${strategy}&origins=${ORIGINS}`).catch((e) => ({ error: e })),
  ]);
  if (mine !== token) return; // a newer view won
  const empty = $("accuracy-empty");
  const body = $("accuracy-body");
  if (report.error || past.error) {
    empty.textContent = `Could not read the live accuracy: ${(report.error || past.error).detail}`;
    empty.hidden = false;
    body.hidden = true;
    return;
  }
  const points = past.data.filter((p) => p.variable === variable);
  const champion = report.versions.find((v) => v.version_id === report.champion_id) || report.versions[0];
  if (!points.length || !champion) {
    empty.textContent = `No ${strategy} forecast of ${variable} has been served and logged yet: forecasts are scored once the data they forecast is ingested.`;
    empty.hidden = false;
    body.hidden = true;
    return;
  }
  empty.hidden = true;
  body.hidden = false;
  const cells = champion.figures.filter((f) => f.variable === variable);
  const pooled = cells.find((f) => f.step === 0);
  $("accuracy-summary").textContent = summary(champion, pooled);
  plotPast(points);
  plotSteps(cells.filter((f) => f.step > 0), champion.version_id);
}

function summary(version, pooled) {
  const live = pooled ? pooled.live : null;
  if (!live || !live.n) return `Version #${version.version_id} (${version.architecture}): none of its served forecasts has an actual yet.`;
  const bt = pooled.backtest || {};
  const skill = live.mase === null ? "" : live.mase < 1 ? ", beating the naive forecast" : ", not beating the naive forecast";
  const cover = live.coverage === null ? "" : ` ${Math.round((live.level || 0) * 100)}% intervals covered ${Math.round(live.coverage * 100)}%.`;
  return (
    `Version #${version.version_id} (${version.architecture}) over ${version.origins} scored origins ` +
    `(${fmtDate(version.first_origin)} to ${fmtDate(version.last_origin)}): live MAE ${fmtNum(live.mae, 3)} ` +
    `vs backtest ${fmtNum(bt.mae, 3)}; live MASE ${fmtNum(live.mase, 3)} against the naive forecast of the same origins${skill}.${cover}`
  );
}

// one thin line per origin, the actuals as markers
function plotPast(points) {
  const byOrigin = new Map();
  for (const p of points) {
    if (!byOrigin.has(p.origin)) byOrigin.set(p.origin, []);
    byOrigin.get(p.origin).push(p);
  }
  const traces = [...byOrigin.entries()].map(([origin, ps], i) => ({
    uid: `past-${String(origin).replace(/[^A-Za-z0-9_-]/g, "-")}`, // plotly builds CSS selectors from uids
    name: i === 0 ? "served forecasts" : `from ${fmtDate(origin)}`,
    legendgroup: "served",
    showlegend: i === 0,
    type: "scatter",
    mode: "lines",
    x: ps.map((p) => p.ts),
    y: ps.map((p) => p.value),
    line: { color: COLORS.forecast, width: 1 },
    opacity: 0.55,
    hovertemplate: `issued ${fmtDate(origin)}<br>%{x|%Y-%m-%d}: %{y:.4g}<extra></extra>`,
  }));
  const actual = new Map();
  for (const p of points) if (p.actual !== null) actual.set(p.ts, p.actual);
  const xs = [...actual.keys()].sort();
  traces.push({
    uid: "past-actual",
    name: "what happened",
    type: "scatter",
    mode: "markers",
    x: xs,
    y: xs.map((t) => actual.get(t)),
    marker: { color: COLORS.history || "#1f2933", size: 6 },
  });
  const layout = {
    margin: { l: 50, r: 10, t: 30, b: 40 },
    font: FONT,
    xaxis: { type: "date", gridcolor: GRID },
    yaxis: { gridcolor: GRID },
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
    showlegend: true,
  };
  return Plotly.react($("accuracy-chart"), traces, layout, SMALL);
}

function plotSteps(cells, versionId) {
  const series = [
    ["live", "mae", `live #${versionId}`, COLORS.forecast, "solid"],
    ["backtest", "mae", "backtest", COLORS.forecast, "dot"],
    ["live", "naive_mae", "live naive", COLORS.naive, "solid"],
  ];
  const traces = series.map(([where, key, name, color, dash]) => ({
    uid: `steps-${where}-${key}`,
    name,
    type: "scatter",
    mode: "lines+markers",
    x: cells.map((c) => c.step),
    y: cells.map((c) => (c[where] ? c[where][key] ?? null : null)),
    line: { color, dash, width: 2 },
    marker: { size: 5 },
  }));
  const layout = {
    margin: { l: 50, r: 10, t: 30, b: 40 },
    font: FONT,
    xaxis: { title: { text: "forecast step" }, dtick: 1, gridcolor: GRID },
    yaxis: { title: { text: "MAE" }, rangemode: "tozero", gridcolor: GRID },
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
    showlegend: true,
    hovermode: "x unified",
  };
  $("accuracy-steps-table").replaceChildren(
    el("thead", {}, el("tr", {}, ...["step", "n", "live MAE", "backtest MAE", "live naive MAE", "live coverage"].map((t) => el("th", { text: t })))),
    el(
      "tbody",
      {},
      ...cells.map((c) =>
        el(
          "tr",
          {},
          el("td", { text: String(c.step) }),
          el("td", { text: String(c.live.n) }),
          el("td", { text: fmtNum(c.live.mae, 3) }),
          el("td", { text: fmtNum(c.backtest ? c.backtest.mae : null, 3) }),
          el("td", { text: fmtNum(c.live.naive_mae, 3) }),
          el("td", { text: c.live.coverage === null ? "—" : `${Math.round(c.live.coverage * 100)}%` }),
        ),
      ),
    ),
  );
  return Plotly.react($("accuracy-steps"), traces, layout, SMALL);
}
