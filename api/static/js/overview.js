// The office head's desk: load today against yesterday and last week, departments against their targets,
// top consumers, the drinking-water board, open alerts by severity, silent devices (with why, when the gateway says).
import {
  $, KIND_UNIT, SEVERITIES, SEVERITY_COLOURS, ago, bySeverity, campus, chart, consumption, coverageOf, dayAdd,
  devices, esc, fmt, fmtValue, gap, getJSON, hourLabels, legendOf, monthOf, named, progress, projectMonth, siteClock, state,
  t, wall, withLang,
} from "./core.js";
import { healthLine } from "./health.js";
import { drillBadge } from "./plan.js";
import { waterBoard } from "./waterboard.js";

const KINDS = ["electricity", "water", "gas"];

export async function showOverview(section) {
  section.innerHTML = `
    <div id="not-answering"></div>
    <div class="kpis" id="kpis"></div>
    <div class="grid">
      <article class="card wide"><h3>${t("load_title")} <small>${t("load_unit")}</small></h3>
        <div class="chart" id="load-chart"></div></article>
      <article class="card"><h3>${t("dept_title")}</h3><div id="dept-progress"></div></article>
      <article class="card"><h3>${t("top_title")} <small>kWh</small></h3><div class="chart" id="top-chart"></div></article>
      <article class="card"><h3>${t("water_title")}</h3><div id="water-board" class="tiles"></div></article>
      <article class="card"><h3>${t("alerts_title")}</h3><div class="chart short" id="severity-chart"></div>
        <ul id="open-alerts" class="plain"></ul><a href="#alerts">${t("see_all")} →</a></article>
      <article class="card"><h3>${t("silent_title")}</h3><ul id="silent" class="plain"></ul></article>
    </div>`;
  // today, this month and their hours are the site's (its clock), whatever the browser's time zone
  const now = new Date(), clock = siteClock(now), today = clock.date;
  const site = await Promise.all(KINDS.map((kind) => consumption({ kind, interval: "hour", group_by: "site",
    start: dayAdd(today, -7), end: now.toISOString() })));
  const [open] = await Promise.all([
    getJSON(withLang("/alerts?status=open&limit=200")),
    campus(), devices(),
  ]);
  kpis(site, clock, open.filter((a) => a.drill == null).length);  // a drill is listed, marked, but no statistic
  loadCurve(site[0], clock);
  await Promise.all([departments(now, clock), topConsumers(now, clock), waterBoard(), Promise.resolve(openAlerts(open))]);
  notAnswering();
  silent(now);
}

// meters their gateway could not read at its last poll: on top of the first screen, with the gateway's reason
function notAnswering() {
  const list = state.devices.filter((d) => d.health && !d.health.ok);
  $("#not-answering").innerHTML = list.length ? `<div class="notice not-answering" role="status">` +
    `<b>${t("not_answering").replace("{n}", list.length)}</b><ul class="plain">` + list.map((d) =>
      `<li data-device="${esc(d.id)}"><a href="#device/${esc(d.id)}">${named(d.name, d.id)}</a> ` +
      `<small>${healthLine(d.health, true)}</small></li>`).join("") + "</ul></div>" : "";
}

function dayBuckets(body, day) {  // the site's hourly buckets of one day ("YYYY-MM-DD" at the site), by hour
  const out = new Array(24).fill(null);
  for (const b of body.groups[0]?.buckets || []) {
    const w = wall(b.start);
    if (w.date === day && b.coverage > 0) out[w.hour] = b.value;
  }
  return out;
}

function kpis(site, clock, openCount) {
  const cards = KINDS.map((kind, i) => {
    const buckets = site[i].groups[0]?.buckets || [];
    // today so far; against yesterday over the hours both have complete (the current one is still filling),
    // with no percentage when either day's data there is incomplete
    const hours = (day, upto) => buckets.filter((b) => wall(b.start).date === day && wall(b.start).hour < upto);
    const sum = (bs) => bs.reduce((x, b) => x + b.value, 0), a = sum(hours(clock.date, 24));
    const now = hours(clock.date, clock.hour), before = hours(dayAdd(clock.date, -1), clock.hour);
    const missing = clock.hour > 0 &&
      gap([["yesterday", coverageOf(before)], ["today", coverageOf(now)]], site[i].complete_at);
    const b = sum(before), pct = !missing && b > 0 ? ((sum(now) - b) / b) * 100 : null;
    const delta = missing || `${pct === null ? "—" : (pct > 0 ? "+" : "") + fmt(pct, 1) + "%"} <small>${t("vs_yesterday")}</small>`;
    return `<div class="kpi" data-kind="${kind}"><span class="label">${t("kpi_today")} · ${t("kind")[kind]}</span>` +
      `<span class="num">${fmt(a, 0)} <small>${KIND_UNIT[kind]}</small></span>` +
      `<span class="delta ${pct === null ? "" : pct > 0 ? "up" : "down"}">${delta}</span></div>`;
  });
  cards.push(`<a class="kpi alerts" href="#alerts"><span class="label">${t("open_alerts")}</span>` +
    `<span class="num">${openCount}</span><span class="delta">&nbsp;</span></a>`);
  $("#kpis").innerHTML = cards.join("");
}

function loadCurve(body, clock) {
  const series = [[t("today"), clock.date, "#1f4e79", 3], [t("yesterday"), dayAdd(clock.date, -1), "#7f8c8d", 1.5],
    [t("last_week"), dayAdd(clock.date, -7), "#b9770e", 1.5]];
  const data = series.map(([, day]) => dayBuckets(body, day));
  data[0] = data[0].map((v, h) => (h < clock.hour ? v : null));  // this hour is not over: left out of today's curve
  // today's line is drawn above yesterday's and last week's (z), which would otherwise cover its first hours
  const lines = series.map(([name, , color, width], i) => ({ name, type: "line", data: data[i], showSymbol: false,
    z: i === 0 ? 3 : 2,
    lineStyle: { width, color, type: i === 2 ? "dashed" : "solid" }, itemStyle: { color },
    areaStyle: i === 0 ? { opacity: 0.08 } : undefined }));
  chart($("#load-chart"), {
    tooltip: { trigger: "axis", valueFormatter: (v) => (v === null || v === undefined ? "—" : fmt(v, 0) + " kW") },
    legend: legendOf(lines), grid: { left: 50, right: 16, top: 36, bottom: 28 },
    xAxis: { type: "category", data: hourLabels, boundaryGap: false },
    yAxis: { type: "value" },  // kW: in the card's title (a name here would sit under the legend on a phone)
    series: lines,
  }, data.flat().filter((v) => v !== null).length);
  $("#load-chart").dataset.hours = String(data[0].filter((v) => v !== null).length);  // today's hours drawn
}

async function departments(now, clock) {
  const c = await campus();
  const kinds = KINDS.filter((k) => c.departments.some((d) => d.targets[k]));
  const bodies = await Promise.all(kinds.map((kind) => consumption({ kind, interval: "month",
    group_by: "department", start: monthOf(clock.date), end: now.toISOString() })));
  const rows = [];
  for (const d of c.departments) {
    kinds.forEach((kind, i) => {
      const target = d.targets[kind];
      if (!target) return;
      const group = bodies[i].groups.find((g) => g.key === d.id), used = group?.total || 0;
      rows.push(`<div class="progress" data-department="${esc(d.id)}" data-kind="${kind}">` +
        `<div class="progress-title">${esc(d.name)} · ${t("kind")[kind]}</div>` +
        progress(used, target, projectMonth(used, group?.coverage || 0, clock), KIND_UNIT[kind]) + "</div>");
    });
  }
  $("#dept-progress").innerHTML = rows.join("") || `<p class="muted">${t("no_targets")}</p>`;
}

async function topConsumers(now, clock) {
  const c = await campus();
  const body = await consumption({ kind: "electricity", interval: "month", group_by: "building",
    start: monthOf(clock.date), end: now.toISOString() });
  const top = body.groups.filter((g) => g.total > 0).sort((a, b) => b.total - a.total).slice(0, 8).reverse();
  chart($("#top-chart"), {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v) => fmt(v, 0) + " kWh" },
    grid: { left: 8, right: 60, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", axisLabel: { show: false } },
    yAxis: { type: "category", data: top.map((g) => c.building[g.key]?.name || g.name) },
    series: [{ type: "bar", data: top.map((g) => Math.round(g.total)), itemStyle: { color: "#2e86c1" },
      label: { show: true, position: "right", formatter: (p) => fmt(p.value, 0) } }],
  }, top.length);
}

function openAlerts(open) {
  open = bySeverity(open);  // the critical ones first, whatever order the API sends
  const counts = SEVERITIES.map((s) => open.filter((a) => a.severity === s && a.drill == null).length);  // drills: no statistic
  chart($("#severity-chart"), {
    grid: { left: 8, right: 30, top: 4, bottom: 4, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    xAxis: { type: "value", minInterval: 1, show: false },
    yAxis: { type: "category", inverse: true, data: SEVERITIES.map((s) => t("severity")[s]) },
    series: [{ type: "bar", data: counts.map((n, i) => ({ value: n, itemStyle: { color: SEVERITY_COLOURS[SEVERITIES[i]] } })),
      label: { show: true, position: "right" }, barMaxWidth: 18 }],
  }, counts.reduce((a, b) => a + b, 0));
  $("#open-alerts").innerHTML = open.slice(0, 6).map((a) => `<li data-alert="${esc(a.id)}" data-severity="${esc(a.severity)}">` +
    `<a href="#alerts/${esc(a.id)}">` +
    `<span class="sev sev-${esc(a.severity)}">${t("severity")[a.severity]}</span>${a.drill ? drillBadge() : ""} ` +
    `${esc(a.name)}</a><br>` +
    `<small>${a.building_name ? esc(a.building_name) + " · " : ""}${named(a.subject_name, a.subject)} · ` +
    `${ago(a.started)}</small></li>`)
    .join("") || `<li class="muted">${t("none")}</li>`;
}

function silent(now) {
  const list = state.devices.filter((d) => !d.virtual && (d.status === "offline" || !d.last_seen ||
    (d.health && !d.health.ok) || now - new Date(d.last_seen) > 3 * d.interval_s * 1000));  // a virtual meter sends nothing
  const c = state.campus;
  $("#silent").innerHTML = list.map((d) => `<li data-device="${esc(d.id)}"><a href="#device/${esc(d.id)}">` +
    `${named(d.name, d.id)}</a> <small>${esc(c.building[d.building]?.name || d.building)} · ${t("last_data")} ` +
    `${d.last_seen ? ago(d.last_seen) : t("never")}</small>` +
    (d.health && !d.health.ok ? `<br><small>${healthLine(d.health, true)}</small>` : "") + "</li>")
    .join("") || `<li class="muted">${t("none")}</li>`;
}
