// One device: why it is silent, if its gateway says (the reason, its last answer, its success rate); a meter's
// use per hour or day as bars (its register as a line on request, flagged steps marked
// where they happened); a sensor's values with the limits its rules hold it to; the device's own open alerts, the
// most severe first.
import {
  $, KIND_UNIT, addDays, bySeverity, campus, chart, consumption, devices, esc, fmt, getJSON, localISO, named, niceRange,
  state, t, withLang,
} from "./core.js";
import { healthLine } from "./health.js";
import { atSite } from "./siteinfo.js";

const view = { days: 1, register: false, field: null };
/** An instant the API sent (in the site's offset) placed on a chart's time axis as the site's wall clock: the
 * charts are drawn in UTC (useUTC), so the axis and the tooltip read the site's hours in any browser. */
const onAxis = (iso) => Date.parse(iso.slice(0, 19) + "Z");
// hours always HH:mm, a new day as MM-dd (ECharts' default writes midnight as the bare day number)
const TIME_AXIS = { type: "time", axisLabel: { hideOverlap: true, formatter: { year: "{yyyy}-{MM}-{dd}", month: "{MM}-{dd}",
  day: "{MM}-{dd}", hour: "{HH}:{mm}", minute: "{HH}:{mm}", second: "{HH}:{mm}", millisecond: "{HH}:{mm}" } } };
const RANGES = [[1, "24 h"], [7, "7 d"], [30, "30 d"]];

export async function showDevice(section, id) {
  const c = await campus(), devs = await devices();
  const dev = devs.byId[id] || devs.find((d) => d.kind === "electricity") || devs[0];
  const groups = c.buildings.map((b) => [b, devs.filter((d) => d.building === b.id)]).filter(([, ds]) => ds.length);
  section.innerHTML = `
    <h2>${t("device_heading")}</h2>
    <div class="toolbar">
      <label>${t("device_pick")} <select id="device-select">${groups.map(([b, ds]) => `<optgroup label="${esc(b.name)}">` +
        ds.map((d) => `<option value="${esc(d.id)}" title="${esc(d.id)}"${d.id === dev.id ? " selected" : ""}>` +
          `${esc(d.name || d.id)}</option>`).join("") + "</optgroup>").join("")}</select></label>
      <div class="seg" role="group">${RANGES.map(([d, label]) =>
        `<button type="button" data-days="${d}" class="${view.days === d ? "on" : ""}">${label}</button>`).join("")}</div>
      ${dev.kind === "water_quality" ? `<label>${t("field")} <select id="field-select"></select></label>`
        : `<label class="check"><input type="checkbox" id="register-toggle"${view.register ? " checked" : ""}>
           ${t("show_register")}</label>`}
    </div>
    <p class="muted">${named(dev.name, dev.id)} · ${esc(c.building[dev.building]?.name || dev.building)} ·
      ${t("kind")[dev.kind]}${dev.last_seen ? " · " + t("last_data") + " " + atSite(dev.last_seen) : ""}</p>
    ${dev.health ? `<p id="device-health" class="card">${healthLine(dev.health, true)}</p>` : ""}
    <article class="card" id="device-alerts"></article>
    <article class="card"><div class="chart tall" id="device-chart"></div><ul id="flagged" class="plain"></ul></article>
    <article class="card" id="device-by-hand" hidden></article>`;
  $("#device-select").addEventListener("change", (e) => { view.field = null; location.hash = "#device/" + e.target.value; });
  section.querySelectorAll(".seg button").forEach((b) => b.addEventListener("click", () => {
    view.days = Number(b.dataset.days); state.rerender();
  }));
  $("#register-toggle")?.addEventListener("change", (e) => { view.register = e.target.checked; state.rerender(); });
  await Promise.all([openAlerts(dev), dev.kind === "water_quality" ? sensor(dev) : meter(dev), byHand(dev)]);
}

/** A meter read by hand (抄表): its last readings, each marked with who read it, when, and its note. */
async function byHand(dev) {
  if (dev.kind === "water_quality") return;
  const rows = await getJSON(`/readings/manual?` + new URLSearchParams({ device: dev.id, limit: "12" }));
  const box = $("#device-by-hand");
  if (!rows.length) return;
  box.hidden = false;
  box.innerHTML = `<h3>${t("reading_by_hand_list")}</h3><ul class="plain by-hand">${rows.map((r) => {
    const [field, value] = Object.entries(r.values)[0] || ["", null];
    return `<li data-reading="${r.id}"><time>${atSite(r.read_at)}</time> · <b>${fmt(value, 2)}</b> ` +
      `${esc(KIND_UNIT[dev.kind] || field)} · <span class="who">${esc(r.read_by)}</span>` +
      `${r.replacement ? ` <span class="badge due">${t("reading_replaced")}</span>` : ""}` +
      `${r.note ? ` · ${esc(r.note)}` : ""}</li>`;
  }).join("")}</ul>`;
}

/** The device's open alerts, the most severe first, then the newest; each links to its card on the alerts page. */
async function openAlerts(dev) {
  const q = new URLSearchParams({ status: "open", limit: "200" });
  if (dev.building) q.set("building", dev.building);
  const rows = bySeverity((await getJSON(withLang("/alerts?" + q))).filter((a) => a.device === dev.id));
  const box = $("#device-alerts");
  box.dataset.count = String(rows.length);
  box.innerHTML = `<h3>${t("dev_alerts")}</h3>` + (rows.length ? `<ul class="plain dev-alerts">${rows.map((a) =>
    `<li class="sev-${a.severity}" data-alert="${a.id}"><span class="sev sev-${a.severity}">${t("severity")[a.severity]}</span> ` +
    `<a href="#alerts/${a.id}"><b>${esc(a.name)}</b></a> <span>${t("value")} ${a.value === null ? "—"
      : `${fmt(a.value, 2)}${a.unit ? " " + esc(a.unit) : ""}`} · ${t("limit")} ${esc(a.limit || "—")}</span>` +
    ` <small class="muted">${t("status")[a.status]} · ${t("since")} ${atSite(a.started)}</small></li>`).join("")}</ul>`
    : `<p class="muted">${t("dev_no_alerts")}</p>`);
}

async function meter(dev) {
  const end = new Date(), start = addDays(end, -view.days), interval = view.days > 7 ? "day" : "hour";
  const body = await consumption({ kind: dev.kind, interval, group_by: "device", device: dev.id,
    start: localISO(start), end: localISO(end) });
  const buckets = body.groups[0]?.buckets || [];
  const bars = buckets.map((b) => [onAxis(b.start), Number(b.value.toFixed(3))]);
  const flagged = body.flagged.filter((f) => f.device === dev.id);
  const series = [{ name: t(interval === "day" ? "use_per_day" : "use_per_hour"), type: "bar", data: bars,
    itemStyle: { color: "#2e86c1" }, barMaxWidth: 24,
    markArea: { silent: false, itemStyle: { color: "rgba(192,57,43,0.15)" }, label: { color: "#c0392b" },
      data: flagged.map((f) => [{ xAxis: onAxis(f.start), name: t("flag")[f.flag] || f.flag }, { xAxis: onAxis(f.end) }]) } }];
  const yAxis = [{ type: "value", name: body.unit }];
  let points = bars.length;
  if (view.register) {
    const field = dev.kind === "electricity" ? "energy_kwh" : "volume_m3";
    const r = await getJSON(`/devices/${encodeURIComponent(dev.id)}/readings?` + new URLSearchParams({
      start: localISO(start), end: localISO(end), interval: view.days > 7 ? "1h" : "15m", agg: "last", limit: "5000" }));
    const line = r.readings.filter((x) => field in x.values).map((x) => [onAxis(x.ts), x.values[field]]);
    series.push({ name: t("register"), type: "line", yAxisIndex: 1, data: line, showSymbol: false,
      lineStyle: { color: "#b9770e" }, itemStyle: { color: "#b9770e" } });
    yAxis.push({ type: "value", name: t("register"), scale: true, splitLine: { show: false } });
    points += line.length;
  }
  chart($("#device-chart"), {
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 56, right: view.register ? 70 : 16, top: 36, bottom: 56 },
    useUTC: true, xAxis: TIME_AXIS, yAxis, series,
    dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
  }, points);
  $("#flagged").innerHTML = flagged.length ? `<li><b>${t("flagged")}</b></li>` + flagged.map((f) =>
    `<li class="flag-${f.flag}">${atSite(f.start)}–${atSite(f.end)} · ${t("flag")[f.flag] || f.flag} · ` +
    `${fmt(f.register_from, 2)} → ${fmt(f.register_to, 2)}</li>`).join("") : "";
}

async function sensor(dev) {
  const end = new Date(), start = addDays(end, -view.days);
  const q = { start: localISO(start), end: localISO(end), limit: "5000" };
  if (view.days > 1) q.interval = view.days > 7 ? "1h" : "15m";
  const [body, board] = await Promise.all([
    getJSON(`/devices/${encodeURIComponent(dev.id)}/readings?` + new URLSearchParams(q)),
    getJSON(withLang("/water-quality")),
  ]);
  const mine = board.find((s) => s.device === dev.id);
  const fields = [...new Set(body.readings.flatMap((r) => Object.keys(r.values)))];
  const nameOf = (f) => mine?.values.find((v) => v.field === f)?.name || f;
  const withLimits = fields.filter((f) => mine?.values.find((v) => v.field === f)?.limits.length);
  if (!fields.includes(view.field)) view.field = withLimits[0] || fields[0] || null;
  const sel = $("#field-select");
  sel.innerHTML = fields.map((f) => `<option value="${esc(f)}"${f === view.field ? " selected" : ""}>${esc(nameOf(f))}</option>`).join("");
  sel.onchange = () => { view.field = sel.value; state.rerender(); };
  const field = view.field, value = mine?.values.find((v) => v.field === field);
  const pts = body.readings.filter((r) => field in r.values).map((r) => [onAxis(r.ts), r.values[field]]);
  const limits = value?.limits || [];
  const edges = limits.flatMap((l) => [l.low, l.high]).filter((v) => v !== null);
  const range = niceRange(pts.map((p) => p[1]).concat(edges));
  const bands = limits.flatMap((l) => [  // outside the limits, shaded
    ...(l.low !== null ? [[{ yAxis: range.min }, { yAxis: l.low }]] : []),
    ...(l.high !== null ? [[{ yAxis: l.high }, { yAxis: range.max }]] : [])]);
  chart($("#device-chart"), {
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 56, right: 16, top: 36, bottom: 56 },
    useUTC: true, xAxis: TIME_AXIS, yAxis: { type: "value", name: value?.unit || "", ...range },
    series: [{ name: nameOf(field), type: "line", data: pts, showSymbol: false, lineStyle: { color: "#1f4e79" },
      markLine: { symbol: "none", lineStyle: { color: "#c0392b", type: "dashed" },
        label: { formatter: (p) => `${t("limit")} ${p.value}`, position: "insideEndTop" },
        data: edges.map((v) => ({ yAxis: v })) },
      markArea: { silent: true, itemStyle: { color: "rgba(192,57,43,0.08)" }, data: bands } }],
    dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
  }, pts.length);
  $("#flagged").innerHTML = limits.length ? `<li>${t("limits")}: ${limits.map((l) => `${esc(l.rule_name)} ` +
    (l.low !== null && l.high !== null ? `${l.low}–${l.high}` : l.low !== null ? `≥ ${l.low}` : `≤ ${l.high}`))
    .join("; ")}${value ? ` · ${t("standing")[value.standing] || ""}` : ""}</li>` : "";
  if (!pts.length) $("#flagged").innerHTML += `<li class="muted">${t("no_data")}</li>`;
}
