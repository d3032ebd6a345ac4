// The main chart's Plotly traces and layout: the history with forecasts. Plain scatter traces
// (a few hundred points: SVG is fast and needs no WebGL); Plotly.react redraws in place.
// plots.js draws the small figures (error by step, attention), preview.js the static preview.

export const COLORS = {
  history: "#3e4c59",
  forecast: "#c4501c",
  band: "rgba(196, 80, 28, 0.16)",
  recursive: "#2f5d8a",
  direct: "#7b3fa0",
  naive: "#6b7280",
  seasonal: "#9aa5b1",
};
export const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
export const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif", size: 12, color: "#1f2933" };
export const GRID = "#eef0f3";

// The API's naive UTC ISO timestamps as epoch milliseconds.
export const toMs = (ts) => Date.parse(ts.slice(0, 19) + "Z");

export const METRICS = [
  ["mae", "MAE"],
  ["rmse", "RMSE"],
  ["mape", "MAPE %"],
  ["mase", "MASE"],
];
export const WHO = [
  ["model", "model"],
  ["naive", "naive"],
  ["seasonal_naive", "s. naive"],
];

// --- history and forecasts -------------------------------------------------------------

export function historyTrace(history, variable) {
  return {
    uid: "history",
    name: `${variable} observed`,
    type: "scatter",
    mode: "lines",
    x: history.x,
    y: history.y,
    line: { color: COLORS.history, width: 1.4 },
    connectgaps: false,
    hovertemplate: "%{x|%Y-%m-%d}: %{y:.4g}<extra>observed</extra>",
  };
}

// A forecast of one variable (uid = role), with its interval band below it when asked.
export function forecastTraces(fc, variable, { role, color, dash = "solid", band = false }) {
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

export function lastObserved(history, before) {
  for (let i = history.y.length - 1; i >= 0; i--) {
    if (history.y[i] !== null && (!before || history.x[i] <= before)) return { ts: history.x[i], value: history.y[i] };
  }
  return null;
}

// The naive forecast by its definition: the last observed value carried flat over the steps.
export function naiveTrace(last, stepsTs, label) {
  return {
    uid: "naive",
    name: `naive: last value carried flat (${label})`,
    type: "scatter",
    mode: "lines",
    x: [last.ts, ...stepsTs],
    y: [last.value, ...stepsTs.map(() => last.value)],
    line: { color: COLORS.naive, width: 1.6, dash: "dot" },
    hovertemplate: "%{x|%Y-%m-%d}: %{y:.4g}<extra>naive (last value)</extra>",
  };
}

// uirevision: the user's zoom survives redraws until the series, variable or window changes.
export function chartLayout({ variable, origin, originLabel, uirevision }) {
  const layout = {
    margin: { l: 60, r: 20, t: 36, b: 40 },
    font: FONT,
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    hovermode: "x unified",
    showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 12 }, traceorder: "normal" },
    xaxis: { type: "date", gridcolor: GRID, automargin: true },
    yaxis: { title: { text: variable || "" }, gridcolor: GRID, zeroline: false, automargin: true },
    shapes: [],
    annotations: [],
    uirevision,
  };
  if (origin) {
    layout.shapes.push({ type: "line", xref: "x", yref: "paper", x0: origin, x1: origin, y0: 0, y1: 1, line: { color: "#9aa5b1", width: 1.2, dash: "dot" } });
    layout.annotations.push({ x: origin, xref: "x", y: 1, yref: "paper", yanchor: "bottom", xanchor: "right", text: originLabel, showarrow: false, font: { size: 11, color: "#66707a" } });
  }
  return layout;
}

export const RECENT_SPANS = 4; // "recent": this many forecast lengths of history before the forecast

// The x-range the History select asks for: "recent" is the last RECENT_SPANS x H rows of history
// plus the forecast (the forecast about 1/5 of the width at any horizon); a window in days is
// all of it (the data loaded is that window). The y-range fits what is in view.
export function historyView(layout, traces, history, window, steps) {
  const n = history.x.length;
  if (!n) return;
  const rows = window === "recent" ? Math.max(RECENT_SPANS * Math.max(steps, 1), 8) : n;
  const x0 = history.x[Math.max(0, n - rows)];
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
  const end = new Date(toMs(x1));
  const start = new Date(toMs(x0));
  end.setTime(end.getTime() + (end - start) * 0.02);
  layout.xaxis.range = [x0.slice(0, 19), end.toISOString().slice(0, 19)];
  if (!Number.isFinite(lo)) return;
  const span = Math.max(hi - lo, Math.abs(hi) * 0.01, 1e-9);
  layout.yaxis.range = [lo - span * 0.08, hi + span * 0.08];
}
