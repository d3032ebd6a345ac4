// DOM helpers and number/date formatting shared by the dashboard's modules.

export const $ = (id) => document.getElementById(id);

// el("td", {class: "x", text: "1"}, child, ...): attributes, "on..." listeners, children.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function code(text) {
  return el("code", { text });
}

// The API's timestamps are naive UTC ISO strings ("2013-03-01T00:00:00").
export const fmtDate = (ts) => (ts ? ts.slice(0, 10) : "—");
export const fmtDateTime = (ts) => (ts ? ts.slice(0, 16).replace("T", " ") : "—");

export function fmtNum(value, digits = 4) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  if (abs >= 1e5) return value.toExponential(2);
  if (abs >= 100) return value.toFixed(1);
  return Number(value.toPrecision(digits)).toString();
}

export function showBanner(message, kind = "error") {
  const banner = $("banner");
  banner.textContent = message;
  banner.className = kind === "error" ? "banner" : "banner info";
  banner.hidden = !message;
}
