// meterwatch web console: plain JavaScript, no CDN, no build step. Talks to /api/v1 with the bearer token
// kept in this browser (localStorage); #token=... in the address (as the demo prints it) logs in.
"use strict";

const T = {
  "zh-CN": {
    title: "校园能耗与水质监测", nav_overview: "总览", nav_device: "设备曲线", nav_alerts: "告警", nav_reports: "报表",
    logout: "退出", login_title: "请输入访问令牌", login_go: "登录",
    login_help: "令牌由管理员用 meterwatch token create 生成；演示模式启动时会打印管理员令牌。",
    login_bad: "令牌无效或已吊销", overview_title: "今日用量与上周同日同时段对比",
    stale_title: "离线或数据中断的设备", open_title: "未关闭的告警", device_title: "设备读数曲线", device_pick: "设备",
    device_field: "数据项", device_range: "时间范围", alerts_title: "告警", alerts_filter: "状态", st_open: "未关闭",
    st_all: "全部", reports_title: "能源资源消耗月报", reports_month: "月份", building: "建筑",
    electricity: "电 kWh", water: "水 m³", gas: "气 m³", today: "今日", last_week: "上周同日", change: "变化",
    none: "无", no_data: "该时段无数据", ack: "确认", resolve: "关闭", reason_prompt: "关闭原因：",
    comment_prompt: "备注(可空)：", started: "开始", rule: "规则", subject: "对象", status: "状态", severity: "级别",
    value: "数值", actions: "操作", st_active: "未确认", st_acknowledged: "已确认", st_resolved: "已关闭",
    downloading: "正在生成…", downloaded: "已下载", role: { viewer: "查看", electrician: "电工", admin: "管理员" },
    last_seen: "最后数据", never: "从未",
  },
  en: {
    title: "Campus energy and water quality", nav_overview: "Overview", nav_device: "Device chart",
    nav_alerts: "Alerts", nav_reports: "Reports", logout: "Log out", login_title: "Enter your access token",
    login_go: "Log in", login_help: "An admin makes tokens with meterwatch token create; the demo prints an admin token.",
    login_bad: "Token not recognised or revoked", overview_title: "Today vs the same weekday last week, same hours",
    stale_title: "Offline or silent devices", open_title: "Open alerts", device_title: "Device readings",
    device_pick: "Device", device_field: "Value", device_range: "Range", alerts_title: "Alerts", alerts_filter: "Status",
    st_open: "Open", st_all: "All", reports_title: "Monthly energy report", reports_month: "Month", building: "Building",
    electricity: "Electricity kWh", water: "Water m³", gas: "Gas m³", today: "Today", last_week: "Last week",
    change: "Change", none: "None", no_data: "No data in this range", ack: "Acknowledge", resolve: "Resolve",
    reason_prompt: "Reason for resolving:", comment_prompt: "Comment (optional):", started: "Started", rule: "Rule",
    subject: "Subject", status: "Status", severity: "Severity", value: "Value", actions: "Actions",
    st_active: "active", st_acknowledged: "acknowledged", st_resolved: "resolved", downloading: "Preparing…",
    downloaded: "Downloaded", role: { viewer: "viewer", electrician: "electrician", admin: "admin" },
    last_seen: "last data", never: "never",
  },
};

let lang = localStorage.getItem("mw-lang") || "zh-CN";
let me = null;
const $ = (sel) => document.querySelector(sel);
const t = (key) => T[lang][key] ?? key;
const fmt = (n, d = 1) => (n === null || n === undefined ? "—" : Number(n).toLocaleString(lang, {
  minimumFractionDigits: d, maximumFractionDigits: d }));
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function token() { return localStorage.getItem("mw-token"); }

async function api(path, opts = {}) {
  const resp = await fetch("/api/v1" + path, { ...opts, headers: { ...(opts.headers || {}),
    Authorization: "Bearer " + token(), ...(opts.body ? { "Content-Type": "application/json" } : {}) } });
  if (resp.status === 401) { showLogin(t("login_bad")); throw new Error("unauthorised"); }
  if (!resp.ok) { const body = await resp.json().catch(() => ({})); throw new Error(body.detail || resp.statusText); }
  return resp;
}
const getJSON = async (path) => (await api(path)).json();

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  $("#lang").textContent = lang === "zh-CN" ? "English" : "中文";
  document.title = "meterwatch · " + t("title");
  if (me) $("#who").textContent = `${me.name} · ${t("role")[me.role]}`;
}

function showLogin(message = "") {
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== "login"; });
  $("#login-error").textContent = message;
}

function localISO(d) {  // a local time with its offset, as the API takes it
  const off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-", a = Math.abs(off);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:00` +
    `${sign}${p(Math.floor(a / 60))}:${p(a % 60)}`;
}

// -- overview ---------------------------------------------------------------------------
async function use(kind, start, end) {
  const q = new URLSearchParams({ kind, start: localISO(start), end: localISO(end), interval: "hour", group_by: "building", lang });
  const body = await getJSON("/consumption?" + q);
  return Object.fromEntries(body.groups.map((g) => [g.key, g]));
}

async function showOverview() {
  // whole hours on both sides (the API rounds out to whole buckets): today 00:00 to the last full hour,
  // against the same hours of the same weekday last week
  const now = new Date(), midnight = new Date(now); midnight.setHours(0, 0, 0, 0);
  const hour = new Date(now); hour.setMinutes(0, 0, 0);
  const end = hour > midnight ? hour : new Date(+midnight + 3600000);
  const week = 7 * 86400000, kinds = ["electricity", "water", "gas"];
  const [today, before] = await Promise.all([
    Promise.all(kinds.map((k) => use(k, midnight, end))),
    Promise.all(kinds.map((k) => use(k, new Date(midnight - week), new Date(end - week)))),
  ]);
  $("#overview-hours").textContent = `00:00–${String(end.getHours()).padStart(2, "0")}:00`;
  const buildings = new Map();
  today.forEach((byKey) => Object.values(byKey).forEach((g) => buildings.set(g.key, g.name)));
  $("#overview-table thead").innerHTML = `<tr><th>${t("building")}</th>` + kinds.map((k) =>
    `<th colspan="3">${t(k)}</th>`).join("") + "</tr><tr><th></th>" +
    kinds.map(() => `<th>${t("today")}</th><th>${t("last_week")}</th><th>${t("change")}</th>`).join("") + "</tr>";
  $("#overview-table tbody").innerHTML = [...buildings].map(([key, name]) => `<tr data-building="${esc(key)}">` +
    `<td>${esc(name)}</td>` + kinds.map((k, i) => {
      const a = today[i][key], b = before[i][key];
      if (!a) return "<td>—</td><td>—</td><td>—</td>";
      const pct = b && b.total > 0 ? (a.total - b.total) / b.total * 100 : null;
      const cls = pct === null ? "" : pct > 0 ? "up" : "down";
      return `<td>${fmt(a.total)}</td><td>${fmt(b ? b.total : null)}</td>` +
        `<td class="${cls}">${pct === null ? "—" : (pct > 0 ? "+" : "") + fmt(pct) + "%"}</td>`;
    }).join("") + "</tr>").join("");
  const devices = await getJSON("/devices");
  const stale = devices.filter((d) => d.status === "offline" || !d.last_seen ||
    now - new Date(d.last_seen) > 3 * d.interval_s * 1000);
  $("#stale").innerHTML = stale.length ? stale.map((d) => `<li><a href="#device/${esc(d.id)}">${esc(d.name || d.id)}</a>` +
    ` — ${t("last_seen")} ${d.last_seen ? new Date(d.last_seen).toLocaleString(lang) : t("never")}</li>`).join("")
    : `<li>${t("none")}</li>`;
  const open = await getJSON("/alerts?status=open&limit=50");
  $("#open-alerts").innerHTML = open.length ? open.map((a) => `<li><span class="sev-${esc(a.severity)}">` +
    `${esc(a.severity)}</span> ${esc(a.name)} — ${esc(a.subject)}</li>`).join("") : `<li>${t("none")}</li>`;
}

// -- device chart ------------------------------------------------------------------------
let devices = [];
async function showDevice(id) {
  if (!devices.length) devices = await getJSON("/devices");
  const sel = $("#device-select");
  if (!sel.options.length) {
    sel.innerHTML = devices.map((d) => `<option value="${esc(d.id)}">${esc(d.name || d.id)} (${esc(d.id)})</option>`).join("");
  }
  if (id) sel.value = id;
  await drawChart();
}

async function drawChart() {
  const id = $("#device-select").value, days = Number($("#range-select").value);
  const end = new Date(), start = new Date(end - days * 86400000);
  const q = new URLSearchParams({ start: localISO(start), end: localISO(end), limit: "20000" });
  if (days > 1) q.set("interval", days > 7 ? "1h" : "15m");
  const body = await getJSON(`/devices/${encodeURIComponent(id)}/readings?` + q);
  const fields = [...new Set(body.readings.flatMap((r) => Object.keys(r.values)))];
  const fsel = $("#field-select"), keep = fsel.value;
  fsel.innerHTML = fields.map((f) => `<option>${esc(f)}</option>`).join("");
  if (fields.includes(keep)) fsel.value = keep;
  const field = fsel.value;
  const pts = body.readings.filter((r) => field in r.values).map((r) => [new Date(r.ts).getTime(), r.values[field]]);
  const box = $("#chart");
  if (!pts.length) { box.innerHTML = `<p>${t("no_data")}</p>`; return; }
  const W = 900, H = 320, L = 70, B = 30;
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || x0 + 1;
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const X = (x) => L + (x - x0) / (x1 - x0 || 1) * (W - L - 10), Y = (y) => H - B - (y - y0) / (y1 - y0) * (H - B - 10);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y0 + f * (y1 - y0));
  box.innerHTML = `<svg id="device-chart" width="${W}" height="${H}" role="img" aria-label="${esc(id)} ${esc(field)}">` +
    ticks.map((v) => `<line x1="${L}" x2="${W - 10}" y1="${Y(v)}" y2="${Y(v)}" stroke="#e0e0e0"/>` +
      `<text x="${L - 6}" y="${Y(v) + 4}" font-size="11" text-anchor="end">${fmt(v, 2)}</text>`).join("") +
    `<text x="${L}" y="${H - 8}" font-size="11">${new Date(x0).toLocaleString(lang)}</text>` +
    `<text x="${W - 10}" y="${H - 8}" font-size="11" text-anchor="end">${new Date(x1).toLocaleString(lang)}</text>` +
    `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${pts.map((p) =>
      `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ")}"/></svg>` +
    `<p>${esc(body.device)} · ${esc(field)} · ${pts.length} points</p>`;
}

// -- alerts ------------------------------------------------------------------------------
async function showAlerts() {
  const status = $("#alert-status").value;
  const rows = await getJSON("/alerts?limit=200" + (status ? "&status=" + status : ""));
  const canAct = me && (me.role === "electrician" || me.role === "admin");
  $("#alert-table thead").innerHTML = `<tr><th>${t("started")}</th><th>${t("severity")}</th><th>${t("rule")}</th>` +
    `<th>${t("subject")}</th><th>${t("value")}</th><th>${t("status")}</th><th>${t("actions")}</th></tr>`;
  $("#alert-table tbody").innerHTML = rows.map((a) => `<tr data-alert="${a.id}">` +
    `<td class="text">${new Date(a.started).toLocaleString(lang)}</td>` +
    `<td class="text"><span class="sev-${esc(a.severity)}">${esc(a.severity)}</span></td>` +
    `<td class="text">${esc(a.name)}</td><td class="text">${esc(a.subject)}</td>` +
    `<td>${a.value === null ? "—" : fmt(a.value, 2) + " " + esc(a.unit || "")}</td>` +
    `<td class="text status">${t("st_" + a.status)}</td><td class="text">` +
    (canAct && a.status === "active" ? `<button class="ack" data-id="${a.id}">${t("ack")}</button> ` : "") +
    (canAct && a.status !== "resolved" ? `<button class="resolve" data-id="${a.id}">${t("resolve")}</button>` : "") +
    "</td></tr>").join("");
}

async function act(kind, id) {
  // who acts is the token's name: the server takes it from there, never from the body
  const body = kind === "ack" ? { comment: prompt(t("comment_prompt")) || null }
    : { reason: prompt(t("reason_prompt")) };
  if (kind === "resolve" && !body.reason) return;
  await api(`/alerts/${id}/${kind}`, { method: "POST", body: JSON.stringify(body) });
  await showAlerts();
}

// -- reports -----------------------------------------------------------------------------
async function download(format) {
  const month = $("#month").value;
  $("#report-status").textContent = t("downloading");
  const resp = await api(`/reports/energy?month=${month}&format=${format}&lang=${lang}`);
  const blob = await resp.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `energy-report-${month}.${format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  $("#report-status").textContent = `${t("downloaded")}: ${a.download}`;
}

// -- routing -----------------------------------------------------------------------------
let routing = 0;  // only the newest navigation marks the page ready (an older, slower one may finish later)
async function route() {
  const mine = ++routing;
  const hash = location.hash.slice(1);
  if (hash.startsWith("token=")) {
    localStorage.setItem("mw-token", decodeURIComponent(hash.slice(6)));
    history.replaceState(null, "", "/#overview");
  }
  if (!token()) return showLogin();
  if (!me) {
    try { me = await getJSON("/me"); } catch { return; }
    applyLanguage();
  }
  const [page, arg] = (location.hash.slice(1) || "overview").split("/");
  const name = ["overview", "device", "alerts", "reports"].includes(page) ? page : "overview";
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== name; });
  document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.id === "nav-" + name));
  try {
    if (name === "overview") await showOverview();
    if (name === "device") await showDevice(arg && decodeURIComponent(arg));
    if (name === "alerts") await showAlerts();
    if (mine === routing) document.body.dataset.ready = name;
  } catch (err) {
    if (err.message !== "unauthorised") alert(err.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  applyLanguage();
  const m = new Date(); m.setMonth(m.getMonth() - 1);
  $("#month").value = `${m.getFullYear()}-${String(m.getMonth() + 1).padStart(2, "0")}`;
  $("#lang").addEventListener("click", () => {
    lang = lang === "zh-CN" ? "en" : "zh-CN"; localStorage.setItem("mw-lang", lang); applyLanguage(); route();
  });
  $("#logout").addEventListener("click", () => { localStorage.removeItem("mw-token"); me = null; showLogin(); });
  $("#login-form").addEventListener("submit", (e) => {
    e.preventDefault(); localStorage.setItem("mw-token", $("#token").value.trim()); me = null; location.hash = "#overview"; route();
  });
  $("#device-select").addEventListener("change", drawChart);
  $("#field-select").addEventListener("change", drawChart);
  $("#range-select").addEventListener("change", drawChart);
  $("#alert-status").addEventListener("change", showAlerts);
  $("#alert-table").addEventListener("click", (e) => {
    const b = e.target.closest("button"); if (b) act(b.classList.contains("ack") ? "ack" : "resolve", b.dataset.id);
  });
  document.querySelectorAll("#downloads button").forEach((b) => b.addEventListener("click", () => download(b.dataset.format)));
  window.addEventListener("hashchange", route);
  route();
});
