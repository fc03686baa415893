// A canteen or building manager: the building's use today (per hour, against yesterday) and this month (per
// day, against last year and the pace of its target).
import {
  $, KIND_UNIT, campus, chart, consumption, coverageOf, dayAdd, devices, esc, fmt, gap, hourLabels, legendOf, monthAdd,
  monthDays, monthOf, niceRange, progress, projectMonth, siteClock, t, wall,
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
  // today and this month are the site's (its clock), whatever the browser's time zone
  const now = new Date(), clock = siteClock(now), today = clock.date, month = monthOf(today);
  const lastYear = `${clock.year - 1}${month.slice(4)}`;
  const group = (body) => ({ buckets: [], coverage: 0, ...body.groups.find((g) => g.key === building.id),
    complete_at: body.complete_at });
  const [h, d, y] = await Promise.all([
    consumption({ kind, interval: "hour", group_by: "building", start: dayAdd(today, -1), end: now.toISOString() }),
    consumption({ kind, interval: "day", group_by: "building", start: month, end: now.toISOString() }),
    consumption({ kind, interval: "day", group_by: "building", start: lastYear, end: monthAdd(lastYear, 1) }),
  ]).then((bodies) => bodies.map(group));
  const unit = KIND_UNIT[kind];

  const todayV = new Array(24).fill(null), yest = new Array(24).fill(null);
  for (const b of h.buckets) {
    const w = wall(b.start);
    (w.date === today ? todayV : yest)[w.hour] = b.coverage > 0 ? Number(b.value.toFixed(2)) : null;
  }
  const sumToday = todayV.reduce((a, v) => a + (v || 0), 0);
  // yesterday by this time: its whole hours before this one, and this hour's share up to this minute
  const sumYest = yest.slice(0, clock.hour).reduce((a, v) => a + (v || 0), 0) + (yest[clock.hour] || 0) * clock.minute / 60;
  const yestHours = h.buckets.filter((b) => wall(b.start).date !== today && wall(b.start).hour <= clock.hour);
  $(`#today-${kind}`).innerHTML = `<b>${fmt(sumToday, 0)}</b> ${unit} · ${t("yesterday")} ` +
    (gap([["yesterday", coverageOf(yestHours)]], h.complete_at) || `${fmt(sumYest, 0)} ${unit}`);
  const hourly = [{ name: t("today"), type: "bar", data: todayV, itemStyle: { color: "#2e86c1" } },
    { name: t("yesterday"), type: "line", data: yest, showSymbol: false, lineStyle: { color: "#7f8c8d" },
      itemStyle: { color: "#7f8c8d" } }];
  chart($(`#hourly-${kind}`), {
    tooltip: { trigger: "axis" }, legend: legendOf(hourly), grid: { left: 48, right: 12, top: 32, bottom: 24 },
    xAxis: { type: "category", data: hourLabels }, yAxis: { type: "value", name: unit }, series: hourly,
  }, todayV.filter((v) => v !== null).length);

  const days = monthDays(today), labels = Array.from({ length: days }, (_, i) => String(i + 1));
  const thisMonth = new Array(days).fill(null), lastYearV = new Array(days).fill(null);
  d.buckets.forEach((b) => { thisMonth[wall(b.start).day - 1] = Number(b.value.toFixed(1)); });
  y.buckets.forEach((b) => {
    const i = wall(b.start).day - 1;
    if (i < days && b.coverage > 0) lastYearV[i] = Number(b.value.toFixed(1));
  });
  const used = thisMonth.reduce((a, v) => a + (v || 0), 0);
  const lastYearSoFar = lastYearV.slice(0, clock.day).reduce((a, v) => a + (v || 0), 0);
  // last year's same days: "—" and its coverage when that period's data is missing or incomplete
  const lastYearGap = gap([["last_year", coverageOf(y.buckets.filter((b) => wall(b.start).day <= clock.day))]],
    y.complete_at);
  const target = building.targets[kind];
  $(`#month-${kind}`).innerHTML = (target ? progress(used, target, projectMonth(used, d.coverage, clock), unit)
    : `<b>${fmt(used, 0)}</b> ${unit}`) + ` <small class="last-year">${lastYearGap ||
    `${t("last_year")}: ${fmt(lastYearSoFar, 0)} ${unit}`}</small>`;
  const daily = [{ name: t("this_month"), type: "bar", data: thisMonth, itemStyle: { color: "#1f4e79" },
    markLine: target ? { symbol: "none", label: { formatter: `${t("target")} ${fmt(target / days, 0)}/d`,
      position: "insideEndTop" }, lineStyle: { color: "#c0392b", type: "dashed" }, data: [{ yAxis: target / days }] }
      : undefined },
  { name: t("last_year"), type: "line", data: lastYearV, showSymbol: false, lineStyle: { color: "#b9770e" },
    itemStyle: { color: "#b9770e" } }];
  chart($(`#daily-${kind}`), {
    tooltip: { trigger: "axis" }, legend: legendOf(daily), grid: { left: 48, right: 12, top: 32, bottom: 24 },
    xAxis: { type: "category", data: labels },
    yAxis: { type: "value", name: unit, max: target ? (v) => niceRange([0, v.max, target / days]).max : null },
    series: daily,
  }, thisMonth.filter((v) => v !== null).length);
}
