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
/** Alerts in the order a person acts on them: the most severe first, then the newest. */
export const bySeverity = (alerts) => [...alerts].sort((a, b) => {
  const rank = (x) => { const i = SEVERITIES.indexOf(x.severity); return i < 0 ? SEVERITIES.length : i; };
  return rank(a) - rank(b) || String(b.started).localeCompare(String(a.started));
});
// a sensor value's decimals: what the instrument resolves and the limit needs (pH 7.21, TDS 312 mg/L, 24.5 °C)
const DECIMALS = { ph: 2, turbidity_ntu: 2, free_chlorine_mgl: 2, conductivity_uscm: 0, tds_mgl: 0, temperature_c: 1 };
export const fmtValue = (field, v) => fmt(v, DECIMALS[field] ?? 2);
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
export async function devices() {  // with status, last seen and health (its reason in the console's language): 30 s
  if (!state.devices || Date.now() - state.devices.at > 30000 || state.devices.site !== state.site ||
      state.devices.lang !== state.lang) {
    state.devices = await getJSON(withLang("/devices"));
    state.devices.byId = Object.fromEntries(state.devices.map((d) => [d.id, d]));
    state.devices.site = state.site;
    state.devices.lang = state.lang;
    state.devices.at = Date.now();
  }
  return state.devices;
}
export const deviceName = (d) => (d ? d.name || d.id : "");
/** A name to read, with the id on hover. */
export const named = (name, id) => `<span class="named" title="${esc(id)}">${esc(name || id)}</span>`;

// -- time: the site's clock, never the browser's ---------------------------------------------
// "Today" and "this month" are the site's: a browser set to UTC (or abroad) sees the same days as one on the
// campus. Calendar days are "YYYY-MM-DD" strings (the API takes a date as the site's midnight); an instant
// from the API carries the site's offset, so its wall clock is read off the string.
/** The site's IANA time zone (from /sites; the campus's as a fallback). */
export function siteZone() {
  return state.sites?.find((s) => s.id === state.site)?.timezone || state.campus?.site?.timezone || "UTC";
}
/** An instant's wall clock at the site: {date: "2026-12-04", year, month (1–12), day, hour, minute}. */
export function siteClock(at = new Date()) {
  const f = new Intl.DateTimeFormat("en-CA", { timeZone: siteZone(), year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, year: +p.year, month: +p.month, day: +p.day,
    hour: +p.hour % 24, minute: +p.minute };
}
/** The wall clock of an instant the API sent (RFC 3339 in the site's offset): {date, day, hour, label "HH:mm"}. */
export const wall = (iso) => ({ date: iso.slice(0, 10), day: +iso.slice(8, 10), hour: +iso.slice(11, 13),
  label: iso.slice(11, 16) });
/** An axis label for an instant the API sent: always HH:mm (never "2:00" beside "23:00"). */
export const hourLabel = (iso) => wall(iso).label;
const ymd = (d) => d.toISOString().slice(0, 10);
/** Calendar arithmetic on "YYYY-MM-DD" days (no time zone involved). */
export const dayAdd = (date, n) => { const d = new Date(date + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + n); return ymd(d); };
export const monthOf = (date) => date.slice(0, 8) + "01";
export const monthAdd = (date, n) => { const [y, m] = date.split("-").map(Number); return ymd(new Date(Date.UTC(y, m - 1 + n, 1))); };
export const monthDays = (date) => { const [y, m] = date.split("-").map(Number); return new Date(Date.UTC(y, m, 0)).getUTCDate(); };
/** Days of the month gone by at the site's clock (3.5 = noon on the 4th). */
export const monthElapsed = (clock) => clock.day - 1 + (clock.hour + clock.minute / 60) / 24;

// instants (an alert's last 24 h, a device's last 7 days): independent of any time zone
export function localISO(d) {  // an instant with the browser's offset, as the API takes it
  const off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-", a = Math.abs(off);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:00` +
    `${sign}${p(Math.floor(a / 60))}:${p(a % 60)}`;
}
export const addDays = (d, n) => { const x = new Date(d); x.setDate(x.getDate() + n); return x; };
/** A time to read, at the site's clock. */
export const when = (iso) => new Date(iso).toLocaleString(state.lang, { month: "numeric", day: "numeric",
  hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: siteZone() });
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
 * of the month's elapsed time the use was measured over, so data that starts mid-month is not read as a saving.
 * ``clock``: the site's (siteClock()). */
export function projectMonth(used, coverage, clock) {
  return (used / Math.max(coverage * monthElapsed(clock), 1 / 24)) * monthDays(clock.date);
}

/** The coverage of a period from its buckets (of one size): their mean; 0 for none. */
export const coverageOf = (buckets) => (buckets.length ? buckets.reduce((a, b) => a + b.coverage, 0) / buckets.length : 0);

/** A comparison that cannot be made: "—" and which period's data is missing or incomplete (with its coverage),
 * or null when every period's coverage is at least ``completeAt`` (the API's complete_at). ``periods``:
 * [[key of t("cmp_incomplete"), coverage 0–1], ...]. */
export function gap(periods, completeAt) {
  const short = periods.find(([, c]) => !(c >= completeAt));
  if (!short) return null;
  const [key, c] = short;
  return `<span class="gap" data-period="${esc(key)}" data-coverage="${fmt(c * 100, 0)}">— <small>` +
    (c > 0 ? `${t("cmp_incomplete")[key]} · ${t("coverage")} ${fmt(c * 100, 0)}%` : t("cmp_none")[key]) +
    `</small></span>`;
}

/** A chart's legend naming only the series that have something to draw (no entry without a line). */
export const legendOf = (series, extra = {}) => ({ top: 0, ...extra, data: series
  .filter((s) => (s.data || []).some((v) => v !== null && v !== undefined)).map((s) => s.name) });

/** A progress bar: use against a target, with the projected month end marked; red when projected over. */
export function progress(used, target, projected, unit) {
  // projected null: a month that is over, judged on its use
  const pct = target > 0 ? (used / target) * 100 : 0, end = projected ?? used;
  const ppct = target > 0 ? (end / target) * 100 : 0, over = end > target;
  return `<div class="bar${over ? " over" : ""}${projected === null ? "" : " projected"}" role="img" aria-label="${fmt(pct, 0)}%">` +
    `<span class="fill" style="width:${Math.min(pct, 100)}%"></span>` +
    (projected === null ? "" : `<span class="proj" style="left:${Math.min(ppct, 100)}%" ` +
      `title="${t("projected")} ${fmt(projected, 0)} ${esc(unit)}"></span>` +
      // the tick's own label, under it (kept inside the bar's width at either end)
      `<span class="proj-label${ppct > 80 ? " end" : ppct < 20 ? " start" : ""}" style="left:${Math.min(ppct, 100)}%">` +
      `${t("projected_short")} ${fmt(ppct, 0)}%</span>`) +
    `</div><div class="bar-legend">${t("used")} ${fmt(used, 0)} / ${t("target")} ${fmt(target, 0)} ${esc(unit)} · ` +
    `${projected === null ? t("month_pct") : t("projected")} <b class="${over ? "bad" : ""}">${fmt(ppct, 0)}%</b></div>`;
}
