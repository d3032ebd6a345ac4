// Tables and texts of the dashboard's panels: errors by step, model versions, run status.

import { METRICS, WHO } from "./charts.js";
import { el, fmtDate, fmtDateTime, fmtNum } from "./dom.js";

const present = (v) => v !== null && v !== undefined;

// Per step, each metric for the model beside both baselines; green where the model beats naive.
export function errorsTable(fc, steps, pooled) {
  const head1 = el("tr", {}, el("th", { rowspan: 2, text: "step" }), ...METRICS.map(([, name]) => el("th", { colspan: 3, class: "group", text: name })));
  const head2 = el("tr", {}, ...METRICS.flatMap(() => WHO.map(([, name], i) => el("th", { class: i === 0 ? "group" : null, text: name }))));
  const row = (m, step, cls) =>
    el(
      "tr",
      { class: cls },
      el("td", { text: step }),
      ...METRICS.flatMap(([k]) =>
        WHO.map(([who], i) => {
          const value = m[who][k];
          const mark = who === "model" && present(value) && present(m.naive[k]) ? (value < m.naive[k] ? "better" : "worse") : "";
          return el("td", { class: [i === 0 ? "group" : "", mark].join(" ").trim() || null, text: fmtNum(value, 3) });
        }),
      ),
    );
  const coverage = pooled && pooled.model.coverage;
  const measured = present(coverage) ? ` ${Math.round(fc.level * 100)}% interval coverage measured: ${Math.round(coverage * 100)}%.` : "";
  return [
    el("thead", {}, head1, head2),
    el("tbody", {}, ...steps.map((m) => row(m, String(m.step))), pooled ? row(pooled, "all", "pooled") : null),
    el("caption", { text: `Backtest errors per step, on the original scale; green: the model beats the naive forecast (last value carried flat).${measured}` }),
  ];
}

// Versions newest first: the champion marked, "show" to view one, "promote" for the others.
export function modelsTable(models, shownId, { onShow, onPromote }) {
  const head = el("tr", {}, ...["version", "model", "strategy", "status", "trained (UTC)", "on data", "key metric", ""].map((t) => el("th", { text: t })));
  const rows = models.map((m) => {
    const score = m.primary_metric ? `${m.primary_metric.toUpperCase()} ${fmtNum(m.primary_score)}` : "—";
    const range = m.train_start ? `${fmtDate(m.train_start)} to ${fmtDate(m.train_end)}` : "—";
    const actions = el("td", {});
    if (m.status !== "failed") {
      const shown = m.id === shownId;
      actions.append(el("button", { type: "button", class: "small", "data-action": "show", disabled: shown, text: shown ? "shown" : "show", onclick: () => onShow(m) }));
    }
    if (m.status !== "champion" && m.status !== "failed") {
      actions.append(" ", el("button", { type: "button", class: "small", "data-action": "promote", text: "promote", onclick: () => onPromote(m) }));
    }
    const cls = [m.status === "champion" ? "champion" : "", m.id === shownId ? "shown" : ""].join(" ").trim() || null;
    return el(
      "tr",
      { class: cls, "data-version": m.id, "data-status": m.status },
      el("td", { text: `#${m.id}` }),
      el("td", {}, m.label || m.architecture, ...globalLabel(m)),
      el("td", { text: m.strategy }),
      el("td", {}, el("span", { class: `badge ${m.status}`, text: m.status === "champion" ? "★ champion" : m.status })),
      el("td", { text: fmtDateTime(m.created_at) }),
      el("td", { text: range }),
      m.status === "failed" ? el("td", { class: "err", text: (m.error || "failed").split("\n")[0] }) : el("td", { text: score }),
      actions,
    );
  });
  return [el("thead", {}, head), el("tbody", {}, ...rows)];
}

// A member of a global model: one network trained across a group, named with its members.
function globalLabel(m) {
  const g = m.global_model;
  if (!g) return [];
  const title = `one model trained across ${g.members.length} series: ${g.members.join(", ")}`;
  return [" ", el("span", { class: "badge global", "data-global": g.group, title, text: `global · ${g.group} (${g.members.length})` })];
}

export const isActive = (run) => Boolean(run && (run.status === "pending" || run.status === "running"));

// One line on a run: going, done (with what it trained and promoted), or failed and why.
// scope: {key, versions (a Set of this series' version ids)}: a run over several series is
// described by what it did to this one.
export function runSummary(run, scope = null) {
  const took = present(run.duration_s) ? ` ${run.duration_s.toFixed(1)} s` : "";
  const what = `${run.kind} run #${run.id}`;
  if (isActive(run)) return `${what}: ${run.status}${took ? `, ${took} so far` : ""}… (this page follows it and refreshes when it is done)`;
  if (run.status === "failed") return `${what} failed${took ? ` after${took}` : ""}: ${run.error || "no reason recorded"}`;
  let detail = "";
  if (run.kind === "retrain" || run.kind === "train") {
    const ids = (list) => list.map((v) => `#${v}`).join(", ");
    const ours = (list) => (scope ? list.filter((v) => scope.versions.has(v)) : list);
    const promoted = ours(run.result.promoted || []);
    const versions = ours(run.versions || []);
    const served = (run.result.served || []).filter((s) => !scope || s.series === scope.key);
    const baselines = served.filter((s) => s.baseline).map((s) => `${s.series} ${s.strategy}`);
    const none = baselines.length ? "none beat the naive baselines." : "none beat the champion, which stays.";
    detail = promoted.length ? ` trained ${ids(versions)}; promoted ${ids(promoted)} to champion.` : ` trained ${ids(versions) || "nothing"}; ${none}`;
    if (baselines.length) detail += ` No skill over the naive baselines for ${baselines.join(", ")}: a baseline is served there.`;
  }
  return `${what} completed in${took} (${fmtDateTime(run.finished_at)}).${detail}`;
}
