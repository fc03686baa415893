// 费用: what this month costs so far and who pays it — each payer's total and projected month end, the
// electricity by time-of-use band (ECharts), last month's statements to download (PDF, Excel, CSV), and the
// supplier's bill against the meters. Money is the API's (decimal strings, to the fen); the console only adds
// them up in whole fen. A token narrowed to buildings cannot read the whole site's summary (403): it sees the
// payers /payers gives it, from each one's own statement, and no reconciliation.
import { $, chart, esc, fmt, getJSON, monthDays, monthElapsed, siteClock, state, t, token, withLang, withSite } from "./core.js";
import { atSite, saveFile } from "./siteinfo.js";

const FORMATS = [["pdf", "PDF"], ["xlsx", "Excel"], ["csv", "CSV"]];
const BAND_COLOURS = { sharp: "#c0392b", peak: "#e67e22", flat: "#2e86c1", valley: "#27ae60", deep_valley: "#117a65",
  flat_rate: "#7f8c8d", tier_1: "#5d6d7e", tier_2: "#8e44ad", tier_3: "#a04000", tier_4: "#641e16" };

/** Whole fen from the API's decimal string (never float sums of money). */
const fen = (s) => (s === null || s === undefined ? null : Math.round(Number(s) * 100));
/** ¥12,345.67 (−¥12.00), or — without a figure. */
export const yuan = (f) => (f === null || f === undefined || Number.isNaN(f) ? "—"
  : (f < 0 ? "−" : "") + "¥" + (Math.abs(f) / 100).toLocaleString("en-US", { minimumFractionDigits: 2,
    maximumFractionDigits: 2 }));
const BANDS = Object.keys(BAND_COLOURS);
/** Bands in the order of the day's prices (sharp first), any other after them. */
const byRank = (a, b) => { const r = (x) => (BANDS.includes(x.band) ? BANDS.indexOf(x.band) : BANDS.length); return r(a) - r(b); };
const wholeSite = () => !(state.me.scope?.zones?.length || state.me.scope?.buildings?.length);
const monthOf = (clock, back = 0) => {
  const d = new Date(Date.UTC(clock.year, clock.month - 1 - back, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
};

export async function showCosts(section) {
  const clock = siteClock(), month = monthOf(clock), last = monthOf(clock, 1);
  section.innerHTML = `<h2>${t("costs_heading")} <small class="muted">${esc(month)}</small></h2>
    <p class="muted" id="costs-as-of"></p><div id="costs-body"></div>`;
  let payers;
  try {
    payers = await getJSON("/payers");
  } catch (err) {  // no billing file: say so, in the API's words
    $("#costs-body").innerHTML = `<p class="notice" id="costs-none">${t("costs_no_billing")}<br>` +
      `<small>${esc(err.message)}</small></p>`;
    return;
  }
  const site = wholeSite();
  const [now, before] = await Promise.all([figures(month, payers, site), figures(last, payers, site)]);
  render(now, before, site, clock, last);
  await bills(last, site);
}

/** The month's figures: [{payer, name, type, total (fen), projected (fen|null), bands}], the bands of all, the
 * newest reading they include, and the summary's incomer and school share when the token sees the whole site. */
async function figures(month, payers, site) {
  if (site) {
    const s = await getJSON(withLang(`/statements/${month}`));
    return { rows: s.payers.map((p) => ({ payer: p.payer, name: p.payer_name, type: p.payer_type, total: fen(p.total),
      projected: fen(p.projected), bands: p.bands })), bands: s.bands || [], total: fen(s.payers_total),
      projected: fen(s.projected_total), incomer: fen(s.incomer_total), school: fen(s.school_share), asOf: s.as_of };
  }
  const statements = await Promise.all(payers.map((p) =>
    getJSON(withLang(`/statements/${month}?payer=${encodeURIComponent(p.id)}`))));
  const rows = statements.map((s) => ({ payer: s.payer, name: s.payer_name, type: s.payer_type, total: fen(s.total),
    projected: fen(s.projected), bands: bandsOf(s.lines) }));
  const sum = (k) => (!rows.length || rows.some((r) => r[k] === null) ? null : rows.reduce((a, r) => a + r[k], 0));
  return { rows, bands: bandsOf(statements.flatMap((s) => s.lines)), total: sum("total"),
    projected: sum("projected"), incomer: null, school: null,
    asOf: statements.flatMap((s) => s.lines).flatMap((ln) => ln.end_register?.readings || []).map((r) => r.at)
      .filter((at) => new Date(at) <= new Date()).sort((a, b) => new Date(a) - new Date(b)).pop() || null };
}

/** The electricity use lines by band, as the summary adds them (use to 0.01 kWh, amounts in fen). */
function bandsOf(lines) {
  const out = new Map();
  for (const ln of lines) {
    if (ln.section !== "use" || ln.kind !== "electricity" || !ln.band) continue;
    const b = out.get(ln.band) || { band: ln.band, band_name: ln.band_name, use: 0, amount: 0 };
    b.use += Math.round(Number(ln.use) * 100);
    b.amount += fen(ln.amount);
    out.set(ln.band, b);
  }
  return [...out.values()].sort(byRank)
    .map((b) => ({ ...b, use: b.use / 100, amount: (b.amount / 100).toFixed(2) }));
}

function render(now, before, site, clock, last) {
  const lastTotal = Object.fromEntries(before.rows.map((r) => [r.payer, r.total]));
  if (now.asOf) $("#costs-as-of").textContent = t("costs_as_of").replace("{at}", atSite(now.asOf));
  const days = monthDays(clock.date), gone = monthElapsed(clock);
  const kpi = (key, value, note = "") => `<div class="kpi" data-kpi="${key}"><span class="label">${t(key)}</span>` +
    `<span class="num">${yuan(value)}</span><span class="delta">${note || "&nbsp;"}</span></div>`;
  $("#costs-body").innerHTML = `
    ${site ? "" : `<p class="notice" id="costs-narrowed">${t("costs_narrowed")}</p>`}
    <div class="kpis" id="costs-kpis">${kpi("costs_so_far", now.total)}${kpi("costs_projected", now.projected,
      `<small>${t("costs_days").replace("{d}", fmt(gone, 1)).replace("{n}", days)}</small>`)}${site
      ? kpi("costs_incomer", now.incomer) + kpi("costs_school", now.school, `<small>${t("costs_school_note")}</small>`) : ""}</div>
    <div class="grid">
      <article class="card"><h3>${t("costs_by_payer")} <small>${t("costs_so_far")}</small></h3>
        <div class="chart" id="payer-chart"></div></article>
      <article class="card"><h3>${t("costs_by_band")} <small>${t("costs_so_far")}</small></h3>
        <div class="chart" id="band-chart"></div>
        <div class="scroll"><table class="data" id="band-table"><thead><tr><th>${t("costs_band")}</th>
          <th>${t("costs_use")} kWh</th><th>${t("costs_amount")}</th></tr></thead><tbody>${now.bands.map((b) =>
          `<tr data-band="${esc(b.band)}"><td><span class="swatch" style="background:${BAND_COLOURS[b.band] || "#999"}">` +
          `</span>${esc(b.band_name)}</td><td>${fmt(Number(b.use), 0)}</td><td>${yuan(fen(b.amount))}</td></tr>`).join("") ||
          `<tr><td colspan="3" class="muted">—</td></tr>`}</tbody></table></div></article>
      <article class="card" id="bills"><h3>${t("costs_bills").replace("{month}", esc(last))}</h3>
        <div id="bills-body"></div></article>
      <article class="card wide"><h3>${t("costs_payers")}</h3><div class="scroll"><table class="data" id="payer-table">
        <thead><tr><th>${t("costs_payer")}</th><th class="type">${t("costs_type")}</th><th>${t("costs_so_far")}</th>
          <th>${t("costs_projected")}</th><th>${t("costs_last_total").replace("{month}", esc(last))}</th></tr></thead>
        <tbody>${now.rows.map((r) => `<tr data-payer="${esc(r.payer)}"><td>${esc(r.name)}</td>` +
          `<td class="type">${esc(t("payer_type")[r.type] || t("payer_type").other)}</td><td class="total">${yuan(r.total)}</td>` +
          `<td class="projected">${yuan(r.projected)}</td><td>${yuan(lastTotal[r.payer] ?? null)}</td></tr>`).join("")}
          <tr class="total"><td>${t("costs_total")}</td><td class="type"></td><td id="payers-total">${yuan(now.total)}</td>` +
          `<td>${yuan(now.projected)}</td><td>${yuan(before.total)}</td></tr></tbody></table></div></article>
      <article class="card wide" id="statements"><h3>${t("costs_statements").replace("{month}", esc(last))}</h3>
        <ul class="downloads statements">${before.rows.map((r) => `<li data-payer="${esc(r.payer)}"><span>${esc(r.name)} ` +
          `<small class="muted">${yuan(r.total)}</small></span><div class="seg">${FORMATS.map(([f, label]) =>
          `<a class="dl" role="button" data-format="${f}" href="${esc(link(last, r.payer, f))}">${label}</a>`).join("")}` +
          `</div></li>`).join("") || `<li class="muted">${t("costs_no_payers")}</li>`}</ul>
        <p class="muted" id="costs-status" role="status"></p></article>
    </div>`;
  $("#statements").querySelectorAll("a.dl").forEach((a) => a.addEventListener("click", async (e) => {
    e.preventDefault();  // the file needs the token: fetched with it, then saved under the server's name
    $("#costs-status").textContent = t("generating");
    try {
      $("#costs-status").textContent = `${t("downloaded")}: ${await saveFile(a.dataset.path, "statement." + a.dataset.format)}`;
    } catch (err) { $("#costs-status").textContent = `${t("error")}: ${err.message}`; }
  }));
  $("#statements").querySelectorAll("a.dl").forEach((a) => {
    a.dataset.path = a.getAttribute("href").replace(/^\/api\/v1/, "");
  });
  byPayer(now.rows);
  byBand(now.rows);
}

/** The statement's address as the API takes it (the site and the language named). */
const link = (month, payer, format) => "/api/v1" + withSite(withLang(`/statements/${month}?payer=${encodeURIComponent(payer)}` +
  `&format=${format}`));

const tall = (el, n, top = 0) => { el.style.height = `${Math.max(160, 30 * n + 50 + top)}px`; };
const axisName = { width: 120, overflow: "truncate" };

function byPayer(rows) {
  const shown = rows.filter((r) => r.total !== null).sort((a, b) => a.total - b.total);
  const el = $("#payer-chart");
  tall(el, shown.length);
  chart(el, {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v) => yuan(Math.round(v * 100)) },
    grid: { left: 8, right: 90, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", axisLabel: { show: false } },
    yAxis: { type: "category", data: shown.map((r) => r.name), axisLabel: axisName },
    series: [{ type: "bar", data: shown.map((r) => r.total / 100), itemStyle: { color: "#1f4e79" }, barMaxWidth: 22,
      label: { show: true, position: "right", formatter: (p) => yuan(Math.round(p.value * 100)) } }],
  }, shown.length);
}

/** One bar per payer with electricity, stacked by band (元). */
function byBand(rows) {
  const shown = rows.filter((r) => r.bands.some((b) => Number(b.amount) !== 0))
    .sort((a, b) => sumBands(a) - sumBands(b));
  const bands = [];
  for (const r of shown) for (const b of r.bands) if (!bands.some((x) => x.band === b.band)) bands.push(b);
  bands.sort(byRank);
  const series = bands.map((b) => ({ name: b.band_name, type: "bar", stack: "bands", barMaxWidth: 22,
    itemStyle: { color: BAND_COLOURS[b.band] || "#999" },
    data: shown.map((r) => { const x = r.bands.find((y) => y.band === b.band); return x ? Number(x.amount) : 0; }) }));
  const el = $("#band-chart");
  tall(el, shown.length, 30);
  el.dataset.bands = String(bands.length);
  chart(el, {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v) => yuan(Math.round(v * 100)) },
    legend: { top: 0, type: "scroll" },
    grid: { left: 8, right: 16, top: 34, bottom: 8, containLabel: true },
    xAxis: { type: "value", splitNumber: el.clientWidth < 500 ? 3 : 5,
      axisLabel: { hideOverlap: true, formatter: (v) => "¥" + fmt(v, 0) } },
    yAxis: { type: "category", data: shown.map((r) => r.name), axisLabel: axisName },
    series,
  }, series.reduce((a, s) => a + s.data.filter((v) => v).length, 0));
}
const sumBands = (r) => r.bands.reduce((a, b) => a + Number(b.amount), 0);

/** The supplier's bills of the month against the incomer and the payers (POST /bills); none: said so. */
async function bills(month, site) {
  const box = $("#bills-body");
  if (!site) { box.innerHTML = `<p class="muted" id="bills-site-only">${t("costs_site_only")}</p>`; return; }
  let list = [];
  const resp = await fetch("/api/v1" + withSite(withLang(`/bills?month=${month}`)),
    { headers: { Authorization: "Bearer " + token() } });
  if (resp.ok) list = (await resp.json()).filter((b) => (b.status || "current") === "current");
  else if (resp.status !== 404) {
    const body = await resp.json().catch(() => ({}));
    box.innerHTML = `<p class="error">${t("error")}: ${esc(typeof body.detail === "string" ? body.detail : resp.statusText)}</p>`;
    return;
  }
  if (!list.length) { box.innerHTML = `<p class="muted" id="no-bill">${t("costs_no_bill")}</p>`; return; }
  box.innerHTML = list.map((b) => {
    const r = b.reconciliation, unit = esc(b.unit || r?.unit || "");
    const row = (c) => (c ? `<tr data-against="${esc(c.against)}"><td>${esc(c.name)}</td>` +
      `<td>${fmt(Number(c.use), 0)} ${unit}</td><td>${yuan(fen(c.amount))}</td></tr>` +
      `<tr class="gap" data-gap="${esc(c.against)}"><td colspan="3" class="${c.against === "incomer" && r.beyond
        ? "bad" : "muted"}">${t("costs_gap")} ${gapText(c, unit)}</td></tr>` : "");
    return `<div class="bill" data-bill="${esc(b.id)}"><p><b>${esc(t("kind")[b.kind] || b.kind)}</b> · ${esc(b.supplier)}` +
      ` <small class="muted">${esc(b.period?.from)} – ${esc(b.period?.to)}</small></p>
      <div class="scroll"><table class="data bill-table"><thead><tr><th></th><th>${t("costs_use")}</th>
        <th>${t("costs_amount")}</th></tr></thead><tbody>
        <tr data-against="bill"><td>${t("costs_bill")}</td><td>${fmt(Number(b.quantity), 0)} ${unit}</td>` +
        `<td>${yuan(fen(b.amount))}</td></tr>
        ${r ? row(r.incomer) + row(r.payers) : ""}</tbody></table></div>
      ${r?.said ? `<p class="${r.beyond ? "bad" : "ok"}">${esc(r.said)}</p>` : ""}</div>`;
  }).join("");
}

const gapText = (c, unit) => `${Number(c.gap_use) > 0 ? "+" : ""}${fmt(Number(c.gap_use), 0)} ${unit} · ` +
  `${Number(c.gap_amount) > 0 ? "+" : ""}${yuan(fen(c.gap_amount))}` +
  (c.gap_share === null || c.gap_share === undefined ? "" : ` (${fmt(c.gap_share * 100, 1)}%)`);
