// The person filing the bureau report: the month's report in the page (the same figures as the files, from
// the same JSON), with its charts; whether and by whom it was filed (报送, an admin's button); the downloads: the
// month's report, bulletin, year and term summaries, the hazard ledger and the water notice.
import { $, api, chart, esc, fmt, getJSON, progress, state, t, withLang } from "./core.js";
import { atSite, people, personName, saveFile, siteToday, terms } from "./siteinfo.js";

let month = null;

export async function showReport(section, arg) {
  if (/^\d{4}-\d{2}$/.test(arg || "")) month = arg;
  if (!month) {  // last month on the site's calendar: the one to file
    const [y, m] = siteToday().split("-").map(Number);
    month = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
  }
  section.innerHTML = `
    <h2>${t("report_heading")}</h2>
    <div class="toolbar"><label>${t("month")} <input id="month" type="month" value="${month}"></label>
      <div id="downloads" class="seg">${["pdf", "xlsx", "csv", "json"].map((f) =>
        `<button type="button" data-format="${f}">${f === "xlsx" ? "Excel" : f.toUpperCase()}</button>`).join("")}</div>
      <a id="filed-badge" href="#filing" class="badge" hidden></a>
      <span id="report-status" class="muted" role="status"></span></div>
    <div id="report-body"></div>
    <div class="grid"><article class="card" id="filing"></article><article class="card" id="more-downloads"></article></div>`;
  $("#month").addEventListener("change", (e) => { if (e.target.value) location.hash = "#reports/" + e.target.value; });
  section.querySelectorAll("#downloads button").forEach((b) => b.addEventListener("click", () => download(b.dataset.format)));
  const [r, roster, termList] = await Promise.all([getJSON(withLang(`/reports/energy?month=${month}&format=json`)),
    people(), terms()]);
  render(r);
  filing(r, roster);
  downloads(termList);
}

/** The partial scope (zones or buildings) can neither file nor read a filed report: the site's every building. */
const wholeSite = () => !(state.me.scope?.zones?.length || state.me.scope?.buildings?.length);

function filing(r, roster) {
  const f = r.filed, box = $("#filing");
  const canFile = state.me.role === "admin" && wholeSite();
  box.innerHTML = `<h3>${t("file_heading")}</h3>
    <p id="filed-status" class="${f ? "ok" : "muted"}" data-version="${f ? f.version : 0}">${f
      ? `${t("file_done")} · ${t("file_version").replace("{v}", f.version)} · ${t("file_by")} ` +
        `<b>${esc(personName(roster, f.filed_by))}</b> · ${atSite(f.filed_at)}` : t("file_none")}</p>
    ${f && f.changes.length ? `<p class="bad">${t("file_changed").replace("{n}", f.changes.length)}</p>` : ""}
    ${f && wholeSite() ? `<div class="seg" id="filed-files" role="group" aria-label="${t("file_download")}">${["pdf", "xlsx"]
      .map((x) => `<button type="button" data-format="${x}">${t("file_download")} ${x === "xlsx" ? "Excel" : "PDF"}</button>`)
      .join("")}</div>` : ""}
    ${canFile ? `<div class="file-actions"><button type="button" id="file-report" class="primary">${f ? t("file_again")
      : t("file_button")}</button><div id="file-confirm" hidden><p>${esc(t("file_confirm").replace("{month}", month))}</p>
      <button type="button" id="file-yes" class="primary">${t("file_heading")}</button>
      <button type="button" id="file-no">${t("cancel")}</button></div></div>`
      : state.me.role === "admin" ? "" : `<p class="muted">${t("file_admin_only")}</p>`}
    <p class="error" id="file-error" role="alert"></p>`;
  const badge = $("#filed-badge");  // at the top: whether this month is filed, without scrolling to the end
  badge.hidden = false;
  badge.className = `badge ${f ? "pass" : "due"}`;
  badge.textContent = f ? `${t("file_done")} · ${t("file_version").replace("{v}", f.version)}` : t("file_none");
  badge.addEventListener("click", (e) => { e.preventDefault(); box.scrollIntoView({ block: "start" }); });
  box.querySelectorAll("#filed-files button").forEach((b) => b.addEventListener("click", () =>
    fetchFile(`/reports/filed/${month}?format=${b.dataset.format}&version=${f.version}`, `filed-${month}.${b.dataset.format}`)));
  $("#file-report")?.addEventListener("click", () => { $("#file-confirm").hidden = false; });
  $("#file-no")?.addEventListener("click", () => { $("#file-confirm").hidden = true; });
  $("#file-yes")?.addEventListener("click", async () => {
    $("#file-error").textContent = "";
    $("#report-status").textContent = t("generating");
    try {
      const filed = await (await api(`/reports/energy/${month}/file`, { method: "POST" })).json();
      document.body.dataset.saved = `filed:${filed.version}`;
      await state.rerender();
    } catch (err) { $("#file-error").textContent = err.message; $("#report-status").textContent = ""; }
  });
}

function downloads(termList) {
  const year = Number(month.slice(0, 4));
  const both = (what, path) => ["pdf", "xlsx"].map((x) => `<button type="button" data-dl="${what}" ` +
    `data-path="${esc(path)}" data-format="${x}">${x === "xlsx" ? "Excel" : "PDF"}</button>`).join("");
  $("#more-downloads").innerHTML = `<h3>${t("dl_heading")}</h3><ul class="downloads">
    <li><span>${t("dl_bulletin")} <small class="muted">${esc(month)}</small></span>
      <div class="seg">${both("bulletin", `/reports/bulletin/${month}`)}</div></li>
    <li><span>${t("dl_year")} <select id="dl-year" aria-label="${t("dl_year")}">${[year, year - 1].map((y) =>
      `<option value="${y}">${y}</option>`).join("")}</select></span><div class="seg">${both("year", "")}</div></li>
    <li><span>${t("dl_term")} ${termList.length ? `<select id="dl-term" aria-label="${t("dl_term")}">${termList.map((x) =>
      `<option value="${esc(x.name)}"${x.start <= month + "-31" && x.end >= month + "-01" ? " selected" : ""}>` +
      `${esc(x.name)}</option>`).join("")}</select>` : `<small class="muted">${t("dl_no_terms")}</small>`}</span>
      ${termList.length ? `<div class="seg">${both("term", "")}</div>` : ""}</li>
    <li><span>${t("dl_hazards")}</span><div class="seg">${both("hazards", "/hazards")}</div></li>
    <li><span>${t("dl_notice")}</span><div class="seg"><button type="button" data-dl="notice" ` +
      `data-path="/water-tests/notice" data-format="pdf">PDF</button></div></li></ul>`;
  $("#more-downloads").querySelectorAll("button[data-dl]").forEach((b) => b.addEventListener("click", () => {
    const what = b.dataset.dl, f = b.dataset.format;
    const path = what === "year" ? `/reports/energy/year/${$("#dl-year").value}`
      : what === "term" ? `/reports/energy/term/${encodeURIComponent($("#dl-term").value)}` : b.dataset.path;
    fetchFile(withLang(path + (what === "notice" ? "" : `?format=${f}`)), `${what}.${f}`);
  }));
}

async function fetchFile(path, fallback) {
  $("#report-status").textContent = t("generating");
  try {
    $("#report-status").textContent = `${t("downloaded")}: ${await saveFile(path, fallback)}`;
  } catch (err) { $("#report-status").textContent = `${t("error")}: ${err.message}`; }
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
        `${pct(g.ytd_pct, g.ytd_gap).replace(/^\+/, "")}</small></div>` +
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
          `<td>${fmt(c.this_month, 0)}</td><td>${pct(c.mom_pct, c.mom_gap)}</td><td>${pct(c.yoy_pct, c.yoy_gap)}</td></tr>`).join("")}</tbody>
      </table></div></article>
      <article class="card"><h3>${t("line_loss")}</h3>${r.incomer ? `<p class="big" id="line-loss">` +
        `${fmt(r.incomer.loss_pct, 1)}%</p><p>${t("incomer")} ${fmt(r.incomer.incomer_kwh, 0)} kWh · ` +
        `${t("meters_sum")} ${fmt(r.incomer.meters_kwh, 0)} kWh</p>` : `<p class="muted">—</p>`}
        <h3>${t("incomplete")}</h3><ul class="plain">${incomplete.slice(0, 10).map((m) => `<li><span ` +
          `class="named" title="${esc(m.device)}">${esc(m.name)}</span>${m.manual ? ` <small class="muted">` +
          `${t("reading_by_hand")}</small>` : ""} ${fmt(m.coverage * 100, 1)}%</li>`).join("") ||
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

// a change, or "—" with why it is left out (the report's gap: this month unfinished, a period incomplete, ...)
const pct = (v, gap) => (v === null || v === undefined
  ? `— ${gap ? `<small class="muted" data-gap="${esc(gap)}">${esc(t("report_gap")[gap] || "")}</small>` : ""}`
  : `${v > 0 ? "+" : ""}${fmt(v, 1)}%`);

function download(format) {
  return fetchFile(withLang(`/reports/energy?month=${month}&format=${format}`), `energy-report-${month}.${format}`);
}
