// A static SVG preview of the main chart, drawn while plotly loads.

import { COLORS, FONT, GRID, toMs } from "./charts.js";

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
