// Plotly figures: the history with forecasts, error by step, attention. Plain scatter traces
// (a few hundred points: SVG is fast and needs no WebGL); Plotly.react redraws in place.

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
const SMALL_CONFIG = { ...PLOT_CONFIG, displayModeBar: false };
const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif", size: 12, color: "#1f2933" };
const GRID = "#eef0f3";

// The API's naive UTC ISO timestamps as epoch milliseconds.
const toMs = (ts) => Date.parse(ts.slice(0, 19) + "Z");

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

// --- error by step -------------------------------------------------------------------

// steps: the API's StepMetrics rows of one variable, steps 1..H.
export function plotErrors(node, steps, metric, modelId) {
  const label = METRICS.find(([k]) => k === metric)[1];
  const colors = { model: COLORS.forecast, naive: COLORS.naive, seasonal_naive: COLORS.seasonal };
  const traces = WHO.map(([who, name]) => ({
    uid: `error-${who}`,
    name: who === "model" ? `model #${modelId}` : name,
    type: "scatter",
    mode: "lines+markers",
    x: steps.map((m) => m.step),
    y: steps.map((m) => m[who][metric] ?? null),
    line: { color: colors[who], dash: who === "model" ? "solid" : "dot", width: 2 },
    marker: { size: 5 },
  }));
  const layout = {
    margin: { l: 50, r: 10, t: 30, b: 40 },
    font: FONT,
    xaxis: { title: { text: "forecast step" }, dtick: 1, gridcolor: GRID },
    yaxis: { title: { text: label }, rangemode: "tozero", gridcolor: GRID },
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
    showlegend: true,
    hovermode: "x unified",
  };
  return Plotly.react(node, traces, layout, SMALL_CONFIG);
}

// --- attention -----------------------------------------------------------------------

// The colour is log2(weight / uniform), uniform = 1 / columns: white where a row attends evenly,
// blue above uniform, orange below. Its range is at least 1/4x to 4x uniform and never stretched to
// the data, so weights within a few percent of uniform stay pale instead of looking like a pattern.
const ATTENTION_SPAN = 2; // log2: 1/4x .. 4x
const ATTENTION_SCALE = [
  [0, "#b35806"],
  [0.25, "#f1a340"],
  [0.5, "#ffffff"],
  [0.75, "#6baed6"],
  [1, "#08306b"],
];

function ratioLabel(v) {
  if (v === 0) return "uniform";
  const r = 2 ** Math.abs(v);
  const text = Number.isInteger(r) ? `${r}` : r.toFixed(1);
  return v > 0 ? `${text}x` : `1/${text}x`;
}

// attention: the API's AttentionPublic. Row r covers forecast steps row_steps[r], column c the
// lookback rows column_start_ts[c]..column_end_ts[c] (segment_len steps each). Axes are numeric
// (steps from the issue time, 0 = the last observed row), so plotly spaces the labels itself.
export function plotAttention(node, attention) {
  const w = attention.weights;
  const unit = attention.segment_len || 1;
  const cols = w[0].length;
  const length = cols * unit;
  const uniform = attention.uniform || 1 / cols;
  const z = w.map((row) => row.map((v) => Math.log2(Math.max(v, uniform / 64) / uniform)));
  const peak = Math.max(ATTENTION_SPAN, ...z.map((row) => Math.max(...row.map(Math.abs))));
  const span = Math.ceil(peak);
  const ticks = [];
  for (let v = -span; v <= span; v += span > 4 ? 2 : 1) ticks.push(v);
  const xEdges = Array.from({ length: cols + 1 }, (_, c) => -(length - 1) - 0.5 + c * unit);
  const yEdges = attention.row_steps.map((s) => s[0] - 0.5).concat([attention.row_steps.at(-1)[1] + 0.5]);
  const starts = attention.column_start_ts.length === cols ? attention.column_start_ts : null;
  const ends = attention.column_end_ts.length === cols ? attention.column_end_ts : null;
  const custom = w.map((row, r) =>
    row.map((v, c) => [
      v,
      v / uniform,
      starts ? (unit > 1 ? `${starts[c]} to ${ends[c]}` : starts[c]) : `column ${c + 1}`,
      attention.row_steps[r][0] === attention.row_steps[r][1] ? `t+${attention.row_steps[r][0]}` : `t+${attention.row_steps[r][0]} to t+${attention.row_steps[r][1]}`,
    ]),
  );
  const heat = {
    uid: "attention",
    type: "heatmap",
    z,
    x: xEdges,
    y: yEdges,
    zmin: -span,
    zmax: span,
    zmid: 0,
    colorscale: ATTENTION_SCALE,
    customdata: custom,
    meta: { uniform, resolution: attention.resolution, segment_len: unit, span },
    colorbar: {
      title: { text: `weight / uniform<br>(1/${cols} = ${uniform.toPrecision(2)})`, side: "right" },
      tickvals: ticks,
      ticktext: ticks.map(ratioLabel),
      thickness: 12,
      x: 1.02,
    },
    hovertemplate:
      "input %{customdata[2]}<br>forecast %{customdata[3]}<br>weight %{customdata[0]:.4f} (%{customdata[1]:.2f}x uniform)<extra></extra>",
  };
  const entropy = {
    uid: "attention-entropy",
    type: "bar",
    orientation: "h",
    x: attention.row_entropy,
    y: attention.row_steps.map((s) => (s[0] + s[1]) / 2),
    width: attention.row_steps.map((s) => Math.max(1, s[1] - s[0] + 1) * 0.8),
    marker: { color: "#7b8794" },
    xaxis: "x2",
    yaxis: "y",
    hovertemplate: "forecast step %{y}<br>entropy %{x:.3f} of uniform<extra></extra>",
    showlegend: false,
  };
  const layout = {
    margin: { l: 56, r: 10, t: 10, b: 44 },
    font: FONT,
    xaxis: {
      domain: [0, 0.8],
      // automargin + standoff: the title sits below the tick labels, never on them
      title: { text: unit > 1 ? `lookback, in segments of ${unit} steps (steps before the issue time)` : "lookback (steps before the issue time)", standoff: 12 },
      automargin: true,
      zeroline: false,
    },
    xaxis2: {
      domain: [0.84, 1],
      range: [0, 1],
      tickvals: [0, 0.5, 1],
      title: { text: "entropy / uniform" },
      gridcolor: GRID,
    },
    // step 1 at the top; the range is the rows' own, not stretched by the entropy bars
    yaxis: { title: { text: "forecast step", standoff: 8 }, range: [yEdges.at(-1), yEdges[0]], zeroline: false, automargin: true },
    showlegend: false,
  };
  return Plotly.react(node, [heat, entropy], layout, SMALL_CONFIG);
}

// --- preview while plotly loads --------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

// A static SVG drawing of the same figure (traces and layout as given to Plotly.react): lines,
// the interval band and the forecast origin, in the view plotly will open on. A first visit
// sees the data while plotly's bundle still compiles; plotly then replaces it, interactive.
export function drawPreview(node, traces, layout) {
  const width = node.clientWidth || 800;
  const height = node.clientHeight || 430;
  const m = layout.margin;
  const lines = traces.filter((t) => t.x && t.x.length);
  let [x0, x1] = layout.xaxis.range ? layout.xaxis.range.map(toMs) : [Infinity, -Infinity];
  let [y0, y1] = layout.yaxis.range || [Infinity, -Infinity];
  if (!layout.xaxis.range || !layout.yaxis.range) {
    for (const t of lines) {
      for (let i = 0; i < t.x.length; i++) {
        const y = t.y[i];
        if (y === null || !Number.isFinite(y)) continue;
        const x = toMs(t.x[i]);
        if (!layout.xaxis.range) [x0, x1] = [Math.min(x0, x), Math.max(x1, x)];
        if (!layout.yaxis.range) [y0, y1] = [Math.min(y0, y), Math.max(y1, y)];
      }
    }
  }
  if (!Number.isFinite(x0) || !Number.isFinite(y0)) return false;
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  if (x1 === x0) x1 = x0 + 1;
  const px = (ts) => m.l + ((toMs(ts) - x0) / (x1 - x0)) * (width - m.l - m.r);
  const py = (y) => height - m.b - ((y - y0) / (y1 - y0)) * (height - m.t - m.b);
  const inView = (t, i) => t.y[i] !== null && Number.isFinite(t.y[i]) && toMs(t.x[i]) >= x0 && toMs(t.x[i]) <= x1;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "chart preview" });
  root.append(svg("rect", { x: m.l, y: m.t, width: width - m.l - m.r, height: height - m.t - m.b, fill: "#fff", stroke: GRID }));
  // the band: upper edge forward, lower edge back
  const upper = lines.find((t) => t.uid.endsWith("-upper"));
  const lower = lines.find((t) => t.uid.endsWith("-lower"));
  if (upper && lower) {
    const pts = [];
    upper.x.forEach((x, i) => inView(upper, i) && pts.push(`${px(x)},${py(upper.y[i])}`));
    for (let i = lower.x.length - 1; i >= 0; i--) if (inView(lower, i)) pts.push(`${px(lower.x[i])},${py(lower.y[i])}`);
    root.append(svg("polygon", { points: pts.join(" "), fill: COLORS.band, "data-uid": "band" }));
  }
  for (const t of lines) {
    if (t.uid.endsWith("-upper") || t.uid.endsWith("-lower")) continue;
    let d = "";
    let pen = "M";
    for (let i = 0; i < t.x.length; i++) {
      if (!inView(t, i)) {
        pen = "M"; // a gap or outside the view: lift the pen
        continue;
      }
      d += `${pen}${px(t.x[i]).toFixed(1)},${py(t.y[i]).toFixed(1)}`;
      pen = "L";
    }
    const line = t.line || {};
    root.append(svg("path", { d, fill: "none", stroke: line.color || COLORS.history, "stroke-width": line.width || 1.5, "stroke-dasharray": line.dash && line.dash !== "solid" ? "4 3" : "none", "data-uid": t.uid }));
  }
  for (const shape of layout.shapes || []) {
    const x = px(shape.x0);
    root.append(svg("line", { x1: x, x2: x, y1: m.t, y2: height - m.b, stroke: "#9aa5b1", "stroke-dasharray": "2 3", "data-uid": "origin" }));
  }
  const label = (text, attrs) => {
    const t = svg("text", { "font-size": 11, fill: "#66707a", "font-family": FONT.family, ...attrs });
    t.textContent = text;
    root.append(t);
  };
  label(new Date(x0).toISOString().slice(0, 10), { x: m.l, y: height - m.b + 16 });
  label(new Date(x1).toISOString().slice(0, 10), { x: width - m.r, y: height - m.b + 16, "text-anchor": "end" });
  label(y1.toPrecision(4), { x: m.l - 6, y: m.t + 10, "text-anchor": "end" });
  label(y0.toPrecision(4), { x: m.l - 6, y: height - m.b, "text-anchor": "end" });
  label(layout.yaxis.title.text, { x: m.l, y: m.t - 10 });
  label("loading the interactive chart…", { x: width - m.r, y: m.t - 10, "text-anchor": "end" });
  node.replaceChildren(root);
  return true;
}
