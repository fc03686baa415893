// The office head's desk: load today against yesterday and last week, departments against their targets,
// top consumers, the drinking-water board, open alerts by severity, silent devices.
import {
  $, KIND_UNIT, SEVERITIES, SEVERITY_COLOURS, addDays, ago, campus, chart, consumption, devices, esc, fmt, getJSON,
  hourLabels, localISO, named, progress, projectMonth, startOfDay, startOfMonth, state, t, withLang,
} from "./core.js";
import { waterBoard } from "./waterboard.js";

const KINDS = ["electricity", "water", "gas"];

export async function showOverview(section) {
  section.innerHTML = `
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
  const now = new Date(), today = startOfDay(now), weekAgo = addDays(today, -7);
  const site = await Promise.all(KINDS.map((kind) => consumption({ kind, interval: "hour", group_by: "site",
    start: localISO(weekAgo), end: localISO(now) })));
  const [open] = await Promise.all([
    getJSON(withLang("/alerts?status=open&limit=200")),
    campus(), devices(),
  ]);
  kpis(site, now, today, open.length);
  loadCurve(site[0], now, today);
  await Promise.all([departments(now), topConsumers(now), waterBoard(), Promise.resolve(openAlerts(open))]);
  silent(now);
}

function dayBuckets(body, day) {  // the site's hourly buckets of one day, by hour
  const out = new Array(24).fill(null), end = addDays(day, 1);
  for (const b of body.groups[0]?.buckets || []) {
    const s = new Date(b.start);
    if (s >= day && s < end && b.coverage > 0) out[s.getHours()] = b.value;
  }
  return out;
}

function kpis(site, now, today, openCount) {
  const cards = KINDS.map((kind, i) => {
    const buckets = site[i].groups[0]?.buckets || [];
    const sum = (from, to) => buckets.filter((b) => new Date(b.start) >= from && new Date(b.start) < to)
      .reduce((a, b) => a + b.value, 0);
    const a = sum(today, now), b = sum(addDays(today, -1), addDays(now, -1));
    const pct = b > 0 ? ((a - b) / b) * 100 : null;
    return `<div class="kpi" data-kind="${kind}"><span class="label">${t("kpi_today")} · ${t("kind")[kind]}</span>` +
      `<span class="num">${fmt(a, 0)} <small>${KIND_UNIT[kind]}</small></span>` +
      `<span class="delta ${pct > 0 ? "up" : "down"}">${pct === null ? "—" : (pct > 0 ? "+" : "") + fmt(pct, 1) + "%"}` +
      ` <small>${t("vs_yesterday")}</small></span></div>`;
  });
  cards.push(`<a class="kpi alerts" href="#alerts"><span class="label">${t("open_alerts")}</span>` +
    `<span class="num">${openCount}</span><span class="delta">&nbsp;</span></a>`);
  $("#kpis").innerHTML = cards.join("");
}

function loadCurve(body, now, today) {
  const series = [[t("today"), today, "#1f4e79", 3], [t("yesterday"), addDays(today, -1), "#7f8c8d", 1.5],
    [t("last_week"), addDays(today, -7), "#b9770e", 1.5]];
  const data = series.map(([, day]) => dayBuckets(body, day));
  const current = now.getHours();  // this hour is not over: leave it out of today's curve
  data[0] = data[0].map((v, h) => (h < current ? v : null));
  chart($("#load-chart"), {
    tooltip: { trigger: "axis", valueFormatter: (v) => (v === null || v === undefined ? "—" : fmt(v, 0) + " kW") },
    legend: { top: 0 }, grid: { left: 50, right: 16, top: 36, bottom: 28 },
    xAxis: { type: "category", data: hourLabels, boundaryGap: false },
    yAxis: { type: "value", name: "kW" },
    series: series.map(([name, , color, width], i) => ({ name, type: "line", data: data[i], showSymbol: false,
      lineStyle: { width, color, type: i === 2 ? "dashed" : "solid" }, itemStyle: { color },
      areaStyle: i === 0 ? { opacity: 0.08 } : undefined })),
  }, data.flat().filter((v) => v !== null).length);
}

async function departments(now) {
  const c = await campus(), month = startOfMonth(now);
  const kinds = KINDS.filter((k) => c.departments.some((d) => d.targets[k]));
  const bodies = await Promise.all(kinds.map((kind) => consumption({ kind, interval: "month",
    group_by: "department", start: localISO(month), end: localISO(now) })));
  const rows = [];
  for (const d of c.departments) {
    kinds.forEach((kind, i) => {
      const target = d.targets[kind];
      if (!target) return;
      const group = bodies[i].groups.find((g) => g.key === d.id), used = group?.total || 0;
      rows.push(`<div class="progress" data-department="${esc(d.id)}" data-kind="${kind}">` +
        `<div class="progress-title">${esc(d.name)} · ${t("kind")[kind]}</div>` +
        progress(used, target, projectMonth(used, group?.coverage || 0, now), KIND_UNIT[kind]) + "</div>");
    });
  }
  $("#dept-progress").innerHTML = rows.join("") || `<p class="muted">${t("no_targets")}</p>`;
}

async function topConsumers(now) {
  const c = await campus();
  const body = await consumption({ kind: "electricity", interval: "month", group_by: "building",
    start: localISO(startOfMonth(now)), end: localISO(now) });
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
  const counts = SEVERITIES.map((s) => open.filter((a) => a.severity === s).length);
  chart($("#severity-chart"), {
    grid: { left: 8, right: 30, top: 4, bottom: 4, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    xAxis: { type: "value", minInterval: 1, show: false },
    yAxis: { type: "category", inverse: true, data: SEVERITIES.map((s) => t("severity")[s]) },
    series: [{ type: "bar", data: counts.map((n, i) => ({ value: n, itemStyle: { color: SEVERITY_COLOURS[SEVERITIES[i]] } })),
      label: { show: true, position: "right" }, barMaxWidth: 18 }],
  }, counts.reduce((a, b) => a + b, 0));
  $("#open-alerts").innerHTML = open.slice(0, 6).map((a) => `<li><a href="#alerts/${a.id}">` +
    `<span class="sev sev-${a.severity}">${t("severity")[a.severity]}</span> ${esc(a.name)}</a><br>` +
    `<small>${a.building_name ? esc(a.building_name) + " · " : ""}${named(a.subject_name, a.subject)} · ` +
    `${ago(a.started)}</small></li>`)
    .join("") || `<li class="muted">${t("none")}</li>`;
}

function silent(now) {
  const list = state.devices.filter((d) => d.status === "offline" || !d.last_seen ||
    now - new Date(d.last_seen) > 3 * d.interval_s * 1000);
  const c = state.campus;
  $("#silent").innerHTML = list.map((d) => `<li data-device="${esc(d.id)}"><a href="#device/${esc(d.id)}">` +
    `${named(d.name, d.id)}</a> <small>${esc(c.building[d.building]?.name || d.building)} · ${t("last_data")} ` +
    `${d.last_seen ? ago(d.last_seen) : t("never")}</small></li>`).join("") || `<li class="muted">${t("none")}</li>`;
}
