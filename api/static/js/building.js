// A canteen or building manager: the building's use today (per hour, against yesterday) and this month (per
// day, against last year and the pace of its target).
import {
  $, KIND_UNIT, addDays, campus, chart, consumption, daysInMonth, devices, esc, fmt, hourLabels, localISO, niceRange,
  progress, projectMonth, startOfDay, startOfMonth, t,
} from "./core.js";

export async function showBuilding(section, id) {
  const c = await campus(), devs = await devices();
  const building = c.building[id] || c.buildings.find((b) => devs.some((d) => d.building === b.id && d.kind !== "water_quality"));
  const kinds = ["electricity", "water", "gas"].filter((k) => devs.some((d) => d.building === building.id && d.kind === k &&
    !d.parent && d.role !== "incomer"));
  section.innerHTML = `
    <h2>${t("building_heading")}</h2>
    <div class="toolbar"><label>${t("building_pick")} <select id="building-select">${c.buildings.map((b) =>
      `<option value="${esc(b.id)}"${b.id === building.id ? " selected" : ""}>${esc(b.name)}</option>`).join("")}
      </select></label><small class="muted">${esc(building.department_name)} · ${esc(building.zone_name || "")}</small></div>
    ${kinds.map((k) => `<div class="grid" data-kind="${k}">
      <article class="card"><h3>${t("kind")[k]} · ${t("today_hourly")} <small>${KIND_UNIT[k]}</small></h3>
        <div class="kpi-line" id="today-${k}"></div><div class="chart" id="hourly-${k}"></div></article>
      <article class="card"><h3>${t("kind")[k]} · ${t("month_daily")} <small>${KIND_UNIT[k]}</small></h3>
        <div class="kpi-line" id="month-${k}"></div><div class="chart" id="daily-${k}"></div></article>
    </div>`).join("") || `<p class="muted">${t("no_data")}</p>`}`;
  $("#building-select").addEventListener("change", (e) => { location.hash = "#building/" + e.target.value; });
  await Promise.all(kinds.map((k) => kindCharts(building, k)));
}

async function kindCharts(building, kind) {
  const now = new Date(), today = startOfDay(now), month = startOfMonth(now);
  const lastYear = new Date(month); lastYear.setFullYear(month.getFullYear() - 1);
  const lastYearEnd = new Date(lastYear); lastYearEnd.setMonth(lastYear.getMonth() + 1);
  const group = (body) => body.groups.find((g) => g.key === building.id) || { buckets: [], coverage: 0 };
  const [h, d, y] = await Promise.all([
    consumption({ kind, interval: "hour", group_by: "building", start: localISO(addDays(today, -1)), end: localISO(now) }),
    consumption({ kind, interval: "day", group_by: "building", start: localISO(month), end: localISO(now) }),
    consumption({ kind, interval: "day", group_by: "building", start: localISO(lastYear), end: localISO(lastYearEnd) }),
  ]).then((bodies) => bodies.map(group));
  const hourly = h.buckets, daily = d.buckets, before = y.buckets, coverage = d.coverage;
  const unit = KIND_UNIT[kind];

  const todayV = new Array(24).fill(null), yest = new Array(24).fill(null);
  for (const b of hourly) {
    const s = new Date(b.start);
    (s >= today ? todayV : yest)[s.getHours()] = b.coverage > 0 ? Number(b.value.toFixed(2)) : null;
  }
  const sumToday = todayV.reduce((a, v) => a + (v || 0), 0);
  const sumYest = yest.slice(0, now.getHours() + 1).reduce((a, v) => a + (v || 0), 0);
  $(`#today-${kind}`).innerHTML = `<b>${fmt(sumToday, 0)}</b> ${unit} · ${t("yesterday")} ${fmt(sumYest, 0)} ${unit}`;
  chart($(`#hourly-${kind}`), {
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 12, top: 32, bottom: 24 },
    xAxis: { type: "category", data: hourLabels }, yAxis: { type: "value", name: unit },
    series: [{ name: t("today"), type: "bar", data: todayV, itemStyle: { color: "#2e86c1" } },
      { name: t("yesterday"), type: "line", data: yest, showSymbol: false, lineStyle: { color: "#7f8c8d" },
        itemStyle: { color: "#7f8c8d" } }],
  }, todayV.filter((v) => v !== null).length);

  const days = daysInMonth(now), labels = Array.from({ length: days }, (_, i) => String(i + 1));
  const thisMonth = new Array(days).fill(null), lastYearV = new Array(days).fill(null);
  daily.forEach((b) => { thisMonth[new Date(b.start).getDate() - 1] = Number(b.value.toFixed(1)); });
  before.forEach((b) => { const d = new Date(b.start).getDate() - 1; if (d < days && b.coverage > 0) lastYearV[d] = Number(b.value.toFixed(1)); });
  const used = thisMonth.reduce((a, v) => a + (v || 0), 0);
  const lastYearSoFar = lastYearV.slice(0, now.getDate()).reduce((a, v) => a + (v || 0), 0);
  const target = building.targets[kind];
  $(`#month-${kind}`).innerHTML = (target ? progress(used, target, projectMonth(used, coverage, now), unit)
    : `<b>${fmt(used, 0)}</b> ${unit}`) + ` <small>${t("last_year")}: ${lastYearV.some((v) => v !== null)
    ? fmt(lastYearSoFar, 0) + " " + unit : "—"}</small>`;
  chart($(`#daily-${kind}`), {
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 12, top: 32, bottom: 24 },
    xAxis: { type: "category", data: labels },
    yAxis: { type: "value", name: unit, max: target ? (v) => niceRange([0, v.max, target / days]).max : null },
    series: [{ name: t("this_month"), type: "bar", data: thisMonth, itemStyle: { color: "#1f4e79" },
      markLine: target ? { symbol: "none", label: { formatter: `${t("target")} ${fmt(target / days, 0)}/d`,
        position: "insideEndTop" }, lineStyle: { color: "#c0392b", type: "dashed" }, data: [{ yAxis: target / days }] }
        : undefined },
    { name: t("last_year"), type: "line", data: lastYearV, showSymbol: false, lineStyle: { color: "#b9770e" },
      itemStyle: { color: "#b9770e" } }],
  }, thisMonth.filter((v) => v !== null).length);
}
