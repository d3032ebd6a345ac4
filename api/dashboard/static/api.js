// The public JSON API (/api/v1), the API key of this tab, and what the API's records mean.

const API = "/api/v1";
const KEY_STORE = "forecaster.apiKey";
export const PAGE_ROWS = 10000; // the API's largest observations page

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

// JSON in, JSON out; any non-2xx answer becomes an ApiError carrying the API's own message.
export async function api(path, { method = "GET", body, auth = false, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const key = apiKey();
    if (!key) throw new ApiError(401, "no API key entered");
    headers["X-API-Key"] = key;
  }
  let response;
  try {
    response = await fetch(API + path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (exc) {
    if (exc.name === "AbortError") throw exc; // cancelled by the page: nothing to report
    throw new ApiError(0, `cannot reach the API at ${location.origin}: is the server running? (${exc.message})`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, (data && data.detail) || response.statusText);
  return data;
}

export const enc = encodeURIComponent;

export async function settle(promise) {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

// --- the API key: entered once per tab, kept in sessionStorage, never in the page ------

export const apiKey = () => sessionStorage.getItem(KEY_STORE);
export const storeKey = (value) => sessionStorage.setItem(KEY_STORE, value);
export const clearKey = () => sessionStorage.removeItem(KEY_STORE);

// What to tell the user when a mutating call was refused; null for other errors.
export function authMessage(error, action) {
  if (error.status === 401 && !apiKey()) return `${action} needs the API key: enter the server's FORECASTER_API_KEY in the "API key" box at the top right, then try again.`;
  if (error.status === 401) return `${action} was refused: the server did not receive an API key (${error.detail}).`;
  if (error.status === 403) return `Wrong API key: the server rejected it, so ${action.toLowerCase()} did not start. Enter the key set in the server's FORECASTER_API_KEY at the top right and try again.`;
  if (error.status === 503) return `${action} is disabled on this server: ${error.detail}.`;
  return null;
}

// --- records -------------------------------------------------------------------------

export function seriesKind(s) {
  const vars = s.variables || [];
  if (vars.includes("close") || s.source === "yahoo") return "stock";
  if (vars.some((v) => ["tmax", "tmin", "tavg", "temp", "prcp"].includes(v)) || s.source === "meteostat") return "weather";
  return s.source;
}

// The server's default target (forecaster.service.default_targets), shown first.
export function defaultVariable(s) {
  for (const name of ["close", "tmax", "tavg", "temp", "ot"]) if (s.variables.includes(name)) return name;
  return s.variables[0] || null;
}

export function windowStart(last, days) {
  if (days === "all" || !last) return null;
  const d = new Date(last.slice(0, 19) + "Z");
  d.setUTCDate(d.getUTCDate() - Number(days));
  return d.toISOString().slice(0, 19);
}

// A version id carries its own strategy (the API refuses one that contradicts it).
export function forecastPath(key, strategy, model) {
  const params = new URLSearchParams(model === "champion" ? { strategy } : { model });
  return `/forecasts/${enc(key)}?${params}`;
}

// Every page of one variable's observations from `start` on: {x: [ts], y: [value|null]}.
export async function readHistory(key, variable, start, signal) {
  const x = [];
  const y = [];
  let cursor = null; // keyset paging: each page costs the same however deep
  for (;;) {
    const params = new URLSearchParams({ variables: variable, limit: PAGE_ROWS });
    if (start) params.set("start", start);
    if (cursor) params.set("cursor", cursor);
    const page = await api(`/series/${enc(key)}/observations?${params}`, { signal });
    for (const row of page.data) {
      x.push(row.ts);
      y.push(row.value);
    }
    if (page.next_cursor === null || page.next_cursor === undefined) return { x, y };
    cursor = page.next_cursor;
  }
}

export const modelLabel = (m) => `${m.label || m.architecture} ${m.strategy} #${m.id}${m.status === "champion" ? " (champion)" : ""}`;
