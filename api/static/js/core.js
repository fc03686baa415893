// What every view shares: the language, the token, calls to /api/v1, formatting, names and charts.
import { text } from "./i18n.js";

// rerender: show the current view again (after a filter changed), and mark the page ready when done
// site: the site every call is about (from the picker when the token sees several sites)
export const state = { lang: localStorage.getItem("mw-lang") || "zh-CN", me: null, campus: null, devices: null,
  sites: null, site: localStorage.getItem("mw-site"), rerender: () => {} };
export const $ = (sel, root = document) => root.querySelector(sel);
export const t = (key) => text(key, state.lang);
export const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) =>
  ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
export const fmt = (n, d = 1) => (n === null || n === undefined || Number.isNaN(n) ? "—"
  : Number(n).toLocaleString(state.lang, { minimumFractionDigits: d, maximumFractionDigits: d }));
export const SEVERITIES = ["critical", "major", "minor", "warning"];
export const SEVERITY_COLOURS = { critical: "#c0392b", major: "#e67e22", minor: "#d4ac0d", warning: "#2e86c1" };
export const KIND_UNIT = { electricity: "kWh", water: "m³", gas: "m³" };

export class Unauthorised extends Error {}

export function token() { return localStorage.getItem("mw-token"); }

/** Every call names the chosen site (a token that sees one site needs none, but naming it does no harm). */
export const withSite = (path) => (state.site && !/[?&]site=/.test(path)
  ? path + (path.includes("?") ? "&" : "?") + "site=" + encodeURIComponent(state.site) : path);

export async function api(path, opts = {}) {
  const resp = await fetch("/api/v1" + withSite(path), { ...opts, headers: { ...(opts.headers || {}),
    Authorization: "Bearer " + token(),
    ...(opts.body && !(opts.body instanceof FormData) ? { "Content-Type": "application/json" } : {}) } });
  if (resp.status === 401) throw new Unauthorised(t("login_bad"));
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    throw new Error(typeof body.detail === "string" ? body.detail : resp.statusText);
  }
  return resp;
}
export const getJSON = async (path) => (await api(path)).json();
export const withLang = (path) => path + (path.includes("?") ? "&" : "?") + "lang=" + state.lang;

// -- what things are called ----------------------------------------------------------------
export async function campus() {
  if (!state.campus || state.campus.lang !== state.lang || state.campus.site.id !== state.site) {
    state.campus = { lang: state.lang, ...(await getJSON(withLang("/campus"))) };
    state.campus.building = Object.fromEntries(state.campus.buildings.map((b) => [b.id, b]));
  }
  return state.campus;
}
export async function devices() {  // with status and last seen: kept for 30 s
  if (!state.devices || Date.now() - state.devices.at > 30000 || state.devices.site !== state.site) {
    state.devices = await getJSON("/devices");
    state.devices.byId = Object.fromEntries(state.devices.map((d) => [d.id, d]));
    state.devices.site = state.site;
    state.devices.at = Date.now();
  }
  return state.devices;
}
export const deviceName = (d) => (d ? d.name || d.id : "");
/** A name to read, with the id on hover. */
export const named = (name, id) => `<span class="named" title="${esc(id)}">${esc(name || id)}</span>`;

// -- time --------------------------------------------------------------------------------
export function localISO(d) {  // a local time with its offset, as the API takes it
  const off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-", a = Math.abs(off);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:00` +
    `${sign}${p(Math.floor(a / 60))}:${p(a % 60)}`;
}
export const startOfDay = (d) => { const x = new Date(d); x.setHours(0, 0, 0, 0); return x; };
export const addDays = (d, n) => { const x = new Date(d); x.setDate(x.getDate() + n); return x; };
export const startOfMonth = (d) => new Date(d.getFullYear(), d.getMonth(), 1);
export const daysInMonth = (d) => new Date(d.getFullYear(), d.getMonth() + 1, 0).getDate();
export const when = (iso) => new Date(iso).toLocaleString(state.lang, { month: "numeric", day: "numeric",
  hour: "2-digit", minute: "2-digit" });
export function ago(iso) {
  const s = (Date.now() - new Date(iso)) / 1000;
  const rtf = new Intl.RelativeTimeFormat(state.lang, { numeric: "auto", style: "short" });
  if (s < 3600) return rtf.format(-Math.max(1, Math.round(s / 60)), "minute");
  if (s < 86400 * 2) return rtf.format(-Math.round(s / 3600), "hour");
  return rtf.format(-Math.round(s / 86400), "day");
}

export async function consumption(params) {
  return getJSON(withLang("/consumption?" + new URLSearchParams(params)));
}

// -- charts (Apache ECharts, vendored) -----------------------------------------------------
const charts = new Set();
/** An ECharts chart in ``el`` in the page's language; ``points`` (data points drawn) goes on the element so a
 * person's tooling (and the tests) can see it rendered with data. */
export function chart(el, option, points) {
  const old = echarts.getInstanceByDom(el);
  if (old) { charts.delete(old); old.dispose(); }
  const c = echarts.init(el, null, { locale: state.lang === "en" ? "EN" : "ZH" });
  c.setOption({ animation: false, textStyle: { fontFamily: "inherit" }, ...option });
  charts.add(c);
  el.dataset.points = String(points);
  return c;
}
export function disposeCharts(root) {
  for (const c of [...charts]) {
    if (!root || root.contains(c.getDom())) { charts.delete(c); c.dispose(); }
  }
}
window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

export const hourLabels = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0") + ":00");

/** An axis range holding every value (limits included: ECharts leaves mark lines out of its own), on round steps. */
export function niceRange(values) {
  const lo = Math.min(...values), hi = Math.max(...values);
  const span = hi - lo || Math.abs(hi) || 1, step = 10 ** Math.floor(Math.log10(span)) / 2;
  return { min: Math.floor((lo - span * 0.05) / step) * step, max: Math.ceil((hi + span * 0.05) / step) * step };
}

/** Month-end use at the rate seen so far: ``coverage`` (received ÷ expected readings since the 1st) says how much
 * of the month's elapsed time the use was measured over, so data that starts mid-month is not read as a saving. */
export function projectMonth(used, coverage, now) {
  const elapsed = (now - startOfMonth(now)) / 86400000;
  return (used / Math.max(coverage * elapsed, 1 / 24)) * daysInMonth(now);
}

/** A progress bar: use against a target, with the projected month end marked; red when projected over. */
export function progress(used, target, projected, unit) {
  // projected null: a month that is over, judged on its use
  const pct = target > 0 ? (used / target) * 100 : 0, end = projected ?? used;
  const ppct = target > 0 ? (end / target) * 100 : 0, over = end > target;
  return `<div class="bar${over ? " over" : ""}" role="img" aria-label="${fmt(pct, 0)}%">` +
    `<span class="fill" style="width:${Math.min(pct, 100)}%"></span>` +
    (projected === null ? "" : `<span class="proj" style="left:${Math.min(ppct, 100)}%" ` +
      `title="${t("projected")} ${fmt(projected, 0)} ${unit}"></span>`) +
    `</div><div class="bar-legend">${t("used")} ${fmt(used, 0)} / ${t("target")} ${fmt(target, 0)} ${esc(unit)} · ` +
    `${projected === null ? t("month_pct") : t("projected")} <b class="${over ? "bad" : ""}">${fmt(ppct, 0)}%</b></div>`;
}
