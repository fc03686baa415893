// The electrician's screen (a phone, from the alert message's link): his zone's alerts, the most severe first and
// then the newest (the API's order), each
// with building, device, value against limit and since when, acknowledge and resolve one tap each, and the
// device's last 24 hours beside it.
import {
  $, addDays, ago, api, campus, chart, consumption, devices, disposeCharts, esc, fmt, getJSON, localISO, named, niceRange, state, t,
  when, withLang,
} from "./core.js";
import { canAct as mayAct, drillBadge, dueLabel, saveReport } from "./plan.js";

const view = { status: "open", zone: null };
const MINI_CHARTS = 12;  // the newest alerts get their device's last 24 h; older ones on request
const PLAN_STEPS = 2;  // an alert with a plan shows its first open steps (who, by when); the checklist has them all

export async function showAlerts(section, focus) {
  if (focus && state.sites?.length > 1) {  // an alert link from another site: show that site
    const a = await getJSON(`/alerts/${encodeURIComponent(focus)}`).catch(() => null);
    if (a?.site && a.site !== state.site && state.sites.some((s) => s.id === a.site)) {
      state.site = a.site;
      $("#site").value = a.site;
    }
  }
  const c = await campus();
  if (view.zone === null) view.zone = state.me?.zones?.length === 1 ? state.me.zones[0] : "";
  section.innerHTML = `
    <h2>${esc(t("alerts_heading"))}</h2>
    <div class="toolbar">
      <div class="seg" role="group">
        <button type="button" data-status="open" class="${view.status === "open" ? "on" : ""}">${esc(t("filter_open"))}</button>
        <button type="button" data-status="" class="${view.status === "" ? "on" : ""}">${esc(t("filter_all"))}</button>
      </div>
      <select id="zone-filter" aria-label="zone"><option value="">${esc(t("zone_all"))}</option>${c.zones.map((z) =>
        `<option value="${esc(z.id)}"${z.id === view.zone ? " selected" : ""}>${esc(z.name)}` +
        `${state.me?.zones?.includes(z.id) ? " · " + esc(t("my_zone")) : ""}</option>`).join("")}</select>
    </div>
    <div id="alert-list" class="alert-list"></div>`;
  section.querySelectorAll(".seg button").forEach((b) => b.addEventListener("click", () => {
    view.status = b.dataset.status; state.rerender();
  }));
  $("#zone-filter").addEventListener("change", (e) => { view.zone = e.target.value; state.rerender(); });
  $("#alert-list").addEventListener("click", (e) => act(e, focus));
  await fill(focus);
}

async function fill(focus) {
  const q = new URLSearchParams({ limit: "200" });
  if (view.status) q.set("status", view.status);
  if (view.zone) q.set("zone", view.zone);
  const rows = await getJSON(withLang("/alerts?" + q));
  if (focus && !rows.some((a) => String(a.id) === String(focus))) {
    try { rows.unshift(await getJSON(withLang(`/alerts/${encodeURIComponent(focus)}`))); } catch { /* gone */ }
  }
  const list = $("#alert-list");
  disposeCharts(list);
  list.innerHTML = rows.map((a, i) => card(a, i < MINI_CHARTS)).join("") || `<p class="muted">${esc(t("no_alerts"))}</p>`;
  const devs = await devices();
  const board = rows.some((a) => devs.byId[a.device]?.kind === "water_quality")
    ? await getJSON(withLang("/water-quality")) : [];
  await Promise.all([...rows.slice(0, MINI_CHARTS).map((a) => mini(a, devs.byId[a.device], board)),
    ...rows.filter((a) => a.plan && a.status !== "resolved").slice(0, MINI_CHARTS).map(nextSteps)]);
  const target = focus && list.querySelector(`[data-alert="${CSS.escape(String(focus))}"]`);
  if (target) { target.classList.add("focus"); target.scrollIntoView({ block: "start" }); }
}

function card(a, withChart) {
  // every string from the API goes through esc() (or named(), which escapes): names and texts are set by people
  const canAct = mayAct();
  const sev = esc(a.severity), id = esc(a.id);
  const value = a.value === null ? "—" : `${esc(fmt(a.value, 2))}${a.unit ? " " + esc(a.unit) : ""}`;
  const reading = a.reading ? `${esc(t("alert_situation"))} <b>${esc(a.reading)}</b>`
    : `${esc(t("value"))} <b>${value}</b> · ${esc(t("limit"))} <b>${esc(a.limit || "—")}</b>`;
  const who = a.status === "acknowledged"
    ? `<div class="who">${esc(t("acked_by"))} ${esc(a.acknowledged_by_name || a.acknowledged_by)}` +
      `${a.ack_comment ? " · " + esc(a.ack_comment) : ""}</div>`
    : a.status === "resolved" ? `<div class="who">${esc(t("resolved_by"))} ` +
      `${esc(a.resolved_by_name || a.resolved_by)} · ${esc(a.resolve_reason || "")}</div>` : "";
  // where, unless what it is about already says it (a round of a building is named with its building)
  const where = a.building_name && !String(a.subject_name || "").includes(a.building_name)
    ? `${esc(a.building_name)} · ` : "";
  // a drill (演练) is marked beside its severity; an alert with a plan names it, with its checklist and report
  const plan = a.plan ? `<div class="plan-box" data-run="${id}">
      <div>${esc(t("plan_label"))}: <b class="plan-name">${esc(a.plan_name || a.plan)}</b></div>
      <ol class="plan-next"></ol>
      <div class="plan-links"><a class="button" href="#plan/${id}">${esc(t("plan_open"))}</a>
        <button type="button" class="report" data-id="${id}">${esc(t("plan_report"))}</button></div></div>` : "";
  return `<article class="alert-card sev-${sev} st-${esc(a.status)}${a.drill ? " drill" : ""}" data-alert="${id}"
    data-status="${esc(a.status)}"${a.drill ? ` data-drill="${esc(a.drill)}"` : ""}>
    <header><span class="sev sev-${sev}">${esc(t("severity")[a.severity] || a.severity)}</span>${a.drill ? drillBadge() : ""}
      <b class="rule" title="${esc(a.rule)}">${esc(a.name)}</b><span class="status">${esc(t("status")[a.status] || a.status)}</span></header>
    <div class="where">${where}${named(a.subject_name, a.subject)}</div>
    <div class="reading">${reading}
      ${a.detail ? `<small>(${esc(a.detail)})</small>` : ""}</div>
    <div class="since">${esc(t("since"))} ${esc(when(a.started))} · ${esc(ago(a.started))} · #${id}</div>
    ${who}
    ${plan}
    ${a.device && withChart ? `<div class="chart mini" data-device="${esc(a.device)}" aria-label="${esc(t("last_24h"))}"></div>` : ""}
    ${canAct && a.status !== "resolved" ? `<div class="actions">
      <input class="reason" aria-label="${esc(t("resolve_reason"))}" title="${esc(t("resolve_reason"))}" maxlength="1000"
        value="${esc(t("default_reason"))}">
      ${a.status === "active" ? `<button type="button" class="ack" data-id="${id}">${esc(t("ack"))}</button>` : ""}
      <button type="button" class="resolve" data-id="${id}">${esc(t("resolve"))}</button></div>` : ""}
  </article>`;
}

async function mini(a, dev, board) {
  const el = document.querySelector(`[data-alert="${CSS.escape(String(a.id))}"] .chart.mini`);
  if (!el || !dev) return;
  const end = new Date(), start = addDays(end, -1);
  if (dev.kind === "water_quality") {
    const sensor = board.find((s) => s.device === dev.id);
    const field = sensor?.values.find((v) => v.limits.some((l) => l.rule === a.rule))?.field
      || sensor?.values[0]?.field;
    const body = await getJSON(`/devices/${encodeURIComponent(dev.id)}/readings?` + new URLSearchParams({
      start: localISO(start), end: localISO(end), limit: "2000" }));
    // the API's times carry the site's offset: placed on a UTC axis as the site's wall clock (useUTC below), so the
    // chart reads the site's hours whatever the browser's time zone
    const pts = body.readings.filter((r) => field in r.values)
      .map((r) => [Date.parse(r.ts.slice(0, 19) + "Z"), r.values[field]]);
    const lim = sensor?.values.find((v) => v.field === field)?.limits || [];
    const edges = lim.flatMap((l) => [l.low, l.high]).filter((v) => v !== null);
    const range = niceRange(pts.map((p) => p[1]).concat(edges));
    chart(el, {
      grid: { left: 44, right: 10, top: 26, bottom: 22 }, tooltip: { trigger: "axis" },
      title: { text: `${t("last_24h")} · ${sensor?.values.find((v) => v.field === field)?.name || field}`,
        textStyle: { fontSize: 11, fontWeight: "normal" }, left: 0, top: 0 },
      useUTC: true, xAxis: { type: "time", axisLabel: { hideOverlap: true, formatter: { day: "{MM}-{dd}",
        hour: "{HH}:{mm}", minute: "{HH}:{mm}" } } }, yAxis: { type: "value", ...range },
      series: [{ type: "line", data: pts, showSymbol: false, lineStyle: { color: "#1f4e79" },
        markLine: { symbol: "none", silent: true, label: { show: false }, lineStyle: { color: "#c0392b", type: "dashed" },
          data: edges.map((v) => ({ yAxis: v })) } }],
    }, pts.length);
    return;
  }
  const body = await consumption({ kind: dev.kind, interval: "hour", group_by: "device", device: dev.id,
    start: localISO(start), end: localISO(end) });
  const buckets = body.groups[0]?.buckets || [];
  chart(el, {
    grid: { left: 44, right: 10, top: 26, bottom: 22 }, tooltip: { trigger: "axis" },
    title: { text: `${t("last_24h")} · ${t("use_per_hour")} ${body.unit}`, textStyle: { fontSize: 11,
      fontWeight: "normal" }, left: 0, top: 0 },
    // the API gives times in the site's time zone: its hour, whatever the browser's zone ("02:00", "23:00")
    xAxis: { type: "category", data: buckets.map((b) => String(b.start).slice(11, 16)) },
    yAxis: { type: "value" },
    series: [{ type: "bar", data: buckets.map((b) => Number(b.value.toFixed(3))), itemStyle: { color: "#2e86c1" } }],
  }, buckets.length);
}

/** An alert's plan: its first open steps (what, who, by when on the site's clock), from its run. */
async function nextSteps(a) {
  const box = document.querySelector(`.plan-box[data-run="${CSS.escape(String(a.id))}"] .plan-next`);
  if (!box) return;
  const run = await getJSON(withLang(`/alerts/${encodeURIComponent(a.id)}/plan`)).catch(() => null);
  if (!run) return;
  const open = run.steps.filter((s) => s.state === "open" || s.state === "overdue").slice(0, PLAN_STEPS);
  box.innerHTML = open.length ? open.map((s) => `<li value="${s.n}" data-step="${s.n}" class="step-${esc(s.state)}">` +
    `<span class="step-text">${esc(s.text)}</span><small>${esc(s.role_name)} · <span class="${s.state === "overdue"
      ? "bad" : ""}">${esc(dueLabel(s, run.started))}</span></small></li>`).join("")
    : `<li class="muted all-done">${esc(t("plan_all_done"))}</li>`;
  box.dataset.shown = String(open.length);
}

async function act(e, focus) {
  const report = e.target.closest("button.report");
  if (report) {
    report.disabled = true;
    try { await saveReport(report.dataset.id); } catch (err) { alert(`${t("error")}: ${err.message}`); }
    report.disabled = false;
    return;
  }
  const b = e.target.closest("button.ack, button.resolve");
  if (!b) return;
  b.disabled = true;
  try {
    if (b.classList.contains("ack")) {
      await api(`/alerts/${b.dataset.id}/ack`, { method: "POST", body: JSON.stringify({ comment: null }) });
    } else {
      const reason = b.closest(".actions").querySelector(".reason").value.trim() || t("default_reason");
      await api(`/alerts/${b.dataset.id}/resolve`, { method: "POST", body: JSON.stringify({ reason }) });
    }
  } catch (err) {
    b.disabled = false;
    alert(`${t("error")}: ${err.message}`);
    return;
  }
  await fill(focus);
  document.body.dataset.acted = b.dataset.id;
}
