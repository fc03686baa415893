// The person filing the bureau report: the month's report in the page (the same figures as the files, from
// the same JSON), with its charts, then the downloads.
import { $, api, chart, esc, fmt, getJSON, progress, t, withLang } from "./core.js";

let month = null;

export async function showReport(section, arg) {
  if (/^\d{4}-\d{2}$/.test(arg || "")) month = arg;
  if (!month) {  // last month: the one to file
    const m = new Date(); m.setMonth(m.getMonth() - 1);
    month = `${m.getFullYear()}-${String(m.getMonth() + 1).padStart(2, "0")}`;
  }
  section.innerHTML = `
    <h2>${t("report_heading")}</h2>
    <div class="toolbar"><label>${t("month")} <input id="month" type="month" value="${month}"></label>
      <div id="downloads" class="seg">${["pdf", "xlsx", "csv", "json"].map((f) =>
        `<button type="button" data-format="${f}">${f === "xlsx" ? "Excel" : f.toUpperCase()}</button>`).join("")}</div>
      <span id="report-status" class="muted"></span></div>
    <div id="report-body"></div>`;
  $("#month").addEventListener("change", (e) => { if (e.target.value) location.hash = "#reports/" + e.target.value; });
  section.querySelectorAll("#downloads button").forEach((b) => b.addEventListener("click", () => download(b.dataset.format)));
  const r = await getJSON(withLang(`/reports/energy?month=${month}&format=json`));
  render(r);
}

const METRICS = ["electricity_kwh", "water_m3", "gas_m3", "energy_kgce", "co2_kg"];

function render(r) {
  const s = r.site_total, incomplete = r.completeness.filter((m) => !m.complete);
  $("#report-body").innerHTML = `
    <p class="muted">${esc(r.site_name)} · ${esc(r.month)} · ${t("coverage")} ${fmt(s.coverage * 100, 1)}%</p>
    <div class="kpis">${METRICS.map((m) => `<div class="kpi" data-metric="${m}"><span class="label">${t(m)}</span>` +
      `<span class="num">${fmt(s.figures[m], 0)}</span></div>`).join("")}</div>
    <div class="grid">
      <article class="card"><h3>${t("dept_energy")}</h3><div class="chart" id="dept-chart"></div></article>
      <article class="card"><h3>${t("targets_heading")}</h3>${r.targets.map((g) =>
        `<div class="progress" data-department="${esc(g.department)}" data-kind="${g.kind}"><div class="progress-title">` +
        `${esc(g.department_name)} · ${t("kind")[g.kind]} <small class="muted">${t("ytd_pct")} ` +
        `${fmt(g.ytd_pct, 1)}%</small></div>` +
        progress(g.month_use, g.month_target, null, g.unit) + "</div>").join("") || `<p>${t("no_targets")}</p>`}
      </article>
      <article class="card wide"><h3>${t("department")}</h3><div class="scroll"><table class="data">
        <thead><tr><th>${t("department")}</th>${METRICS.map((m) => `<th>${t(m)}</th>`).join("")}
          <th>${t("per_person")}</th><th>${t("per_m2")}</th><th>${t("coverage")}</th></tr></thead>
        <tbody>${[...r.departments, { ...s, name: t("site_total"), total: true }].map((d) =>
          `<tr class="${d.total ? "total" : ""}"><td>${esc(d.name)}</td>${METRICS.map((m) =>
            `<td>${fmt(d.figures[m], 0)}</td>`).join("")}<td>${fmt(d.indicators.kgce_per_person, 2)}</td>` +
          `<td>${fmt(d.indicators.kgce_per_m2, 3)}</td><td>${fmt(d.coverage * 100, 1)}%</td></tr>`).join("")}</tbody>
      </table></div></article>
      <article class="card"><h3>${t("comparisons")}</h3><div class="scroll"><table class="data">
        <thead><tr><th></th><th>${t("this_month")}</th><th>${t("mom")}</th><th>${t("yoy")}</th></tr></thead>
        <tbody>${r.comparisons.filter((c) => c.scope === r.site).map((c) => `<tr><td>${t(c.metric)}</td>` +
          `<td>${fmt(c.this_month, 0)}</td><td>${pct(c.mom_pct)}</td><td>${pct(c.yoy_pct)}</td></tr>`).join("")}</tbody>
      </table></div></article>
      <article class="card"><h3>${t("line_loss")}</h3>${r.incomer ? `<p class="big" id="line-loss">` +
        `${fmt(r.incomer.loss_pct, 1)}%</p><p>${t("incomer")} ${fmt(r.incomer.incomer_kwh, 0)} kWh · ` +
        `${t("meters_sum")} ${fmt(r.incomer.meters_kwh, 0)} kWh</p>` : `<p class="muted">—</p>`}
        <h3>${t("incomplete")}</h3><ul class="plain">${incomplete.slice(0, 10).map((m) => `<li><span ` +
          `class="named" title="${esc(m.device)}">${esc(m.name)}</span> ${fmt(m.coverage * 100, 1)}%</li>`).join("") ||
          `<li>${t("all_complete")}</li>`}${incomplete.length > 10 ? `<li class="muted">${t("and_more")
          .replace("{n}", incomplete.length - 10)}</li>` : ""}</ul></article>
    </div>`;
  const depts = r.departments.filter((d) => d.figures.energy_kgce > 0);
  chart($("#dept-chart"), {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    grid: { left: 8, right: 60, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value" }, yAxis: { type: "category", data: depts.map((d) => d.name) },
    series: [{ type: "bar", data: depts.map((d) => Math.round(d.figures.energy_kgce)), itemStyle: { color: "#1f4e79" },
      label: { show: true, position: "right", formatter: (p) => fmt(p.value, 0) } }],
  }, depts.length);
}

const pct = (v) => (v === null || v === undefined ? "—" : `${v > 0 ? "+" : ""}${fmt(v, 1)}%`);

async function download(format) {
  $("#report-status").textContent = t("generating");
  const resp = await api(withLang(`/reports/energy?month=${month}&format=${format}`));
  const blob = await resp.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `energy-report-${month}.${format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  $("#report-status").textContent = `${t("downloaded")}: ${a.download}`;
}
