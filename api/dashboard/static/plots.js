// The small Plotly figures under the chart: error by step and attention.

import { COLORS, FONT, GRID, METRICS, PLOT_CONFIG, WHO } from "./charts.js";

const SMALL_CONFIG = { ...PLOT_CONFIG, displayModeBar: false };

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
