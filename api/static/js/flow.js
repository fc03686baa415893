// 能流图: a month's energy flow as a sankey (ECharts): the incomer → each building → its energy items (分项) and
// 未分项, with the losses (线损及未计量) as their own node. The figures are /flow's (the consumption API's, per meter).
// A token narrowed to zones or buildings sees its buildings only (no incomer, no losses): the page says so. A link
// the meters make negative (buildings above the incomer, sub-meters above their main) cannot be drawn: it is listed.
import { $, chart, esc, fmt, getJSON, siteClock, state, t, withLang } from "./core.js";

const KINDS = ["electricity", "water", "gas"];
const COLOURS = { incomer: "#34495e", loss: "#c0392b", building: "#2e86c1", item: "#27ae60", unitemised: "#95a5a6" };
let month = null, kind = "electricity";

/** ``arg``: "2026-10" or "2026-10,water" (the address keeps what the person chose). */
export async function showFlow(section, arg) {
  const [m, k] = (arg || "").split(",");
  if (/^\d{4}-\d{2}$/.test(m || "")) month = m;
  if (KINDS.includes(k)) kind = k;
  if (!month) {  // this month on the site's calendar
    const c = siteClock();
    month = `${c.year}-${String(c.month).padStart(2, "0")}`;
  }
  section.innerHTML = `<h2>${t("flow_heading")} <small class="muted">${esc(month)}</small></h2>
    <div class="toolbar"><label>${t("month")} <input id="flow-month" type="month" value="${esc(month)}"></label>
    <label>${t("flow_kind")} <select id="flow-kind">${KINDS.map((x) =>
      `<option value="${x}"${x === kind ? " selected" : ""}>${esc(t("kind")[x] || x)}</option>`).join("")}</select></label></div>
    <div id="flow-body"></div>`;
  const go = () => { location.hash = `#flow/${$("#flow-month").value || month},${$("#flow-kind").value}`; };
  $("#flow-month").addEventListener("change", go);
  $("#flow-kind").addEventListener("change", go);
  const flow = await getJSON(withLang(`/flow?month=${month}&kind=${kind}`));
  render($("#flow-body"), flow);
}

function render(body, flow) {
  const unit = flow.unit, byId = Object.fromEntries(flow.nodes.map((n) => [n.id, n]));
  const drawn = flow.links.filter((l) => l.value > 0);
  const skipped = flow.links.filter((l) => l.value < 0);
  const used = new Set(drawn.flatMap((l) => [l.source, l.target]));
  const nodes = flow.nodes.filter((n) => used.has(n.id));
  const top = flow.whole && byId.incomer ? byId.incomer.value
    : flow.nodes.filter((n) => n.kind === "building").reduce((a, n) => a + n.value, 0);
  const share = (v) => (top > 0 ? fmt((100 * v) / top, 1) + "%" : "—");
  const notes = [];
  if (!flow.whole) notes.push(t("flow_narrowed"));
  else if (!byId.incomer) notes.push(t("flow_no_incomer"));
  if (skipped.length) {
    notes.push(t("flow_negative") + " " + skipped.map((l) =>
      `${esc(byId[l.source]?.name || l.source)} → ${esc(byId[l.target]?.name || l.target)} ${fmt(l.value, 1)} ${esc(unit)}`)
      .join("；"));
  }
  body.innerHTML = `${notes.map((n) => `<p class="muted flow-note">${n}</p>`).join("")}
    ${drawn.length ? `<div id="flow-chart" class="chart tall flow-chart" role="img" aria-label="${esc(t("flow_heading"))}"></div>`
      : `<p class="notice" id="flow-empty">${t("flow_empty")}</p>`}
    <table class="data flow-table" id="flow-table"><thead><tr><th>${t("flow_node")}</th><th>${t("flow_node_kind")}</th>
      <th>${t("flow_use")} (${esc(unit)})</th><th>${t("flow_share")}</th></tr></thead>
    <tbody>${flow.nodes.map((n) => `<tr data-node="${esc(n.id)}"><td>${esc(n.name)}${n.code ? ` <small class="muted">${esc(n.code)}</small>` : ""}</td>
      <td>${esc(t("flow_kinds")[n.kind] || n.kind)}</td><td>${fmt(n.value, 1)}</td>
      <td>${share(n.value)}</td></tr>`).join("")}</tbody></table>`;
  if (!drawn.length) return;
  const phone = window.innerWidth < 700, el = $("#flow-chart");
  // columns: incomer (when shown) → buildings and losses → items and 未分项; each label fits the gap to its right
  const depth = (n) => (n.kind === "incomer" ? 0 : ["building", "loss"].includes(n.kind) ? 1 : 2) - (used.has("incomer") ? 0 : 1);
  const cols = Math.max(...nodes.map(depth)) + 1;
  const tallest = Math.max(...Array.from({ length: cols }, (_, c) => nodes.filter((n) => depth(n) === c).length));
  el.style.height = `${Math.min(560, Math.max(220, 60 + tallest * (phone ? 34 : 38)))}px`;  // room for each row
  const left = phone ? 4 : 12, right = phone ? 84 : 170, nodeWidth = phone ? 10 : 16;
  const gap = cols > 1 ? (el.clientWidth - left - right - nodeWidth * cols) / (cols - 1) : right;
  const room = (n) => Math.max(40, (depth(n) === cols - 1 ? right : gap) - 10);
  chart(el, {
    tooltip: { trigger: "item", confine: true, formatter: (p) => (p.dataType === "edge"
      ? `${esc(byId[p.data.source].name)} → ${esc(byId[p.data.target].name)}<br>${fmt(p.data.value, 1)} ${esc(unit)}`
      : `${esc(p.data.title)}<br>${fmt(byId[p.data.name].value, 1)} ${esc(unit)} · ${share(byId[p.data.name].value)}`) },
    series: [{
      type: "sankey", left, right, top: 8, bottom: 8, nodeWidth, nodeGap: phone ? 6 : 10, nodeAlign: "left",
      layoutIterations: 32, draggable: false, emphasis: { focus: "adjacency" },
      label: { fontSize: phone ? 10 : 12, formatter: (p) => p.data.title, overflow: "truncate" },
      lineStyle: { color: "gradient", curveness: 0.5, opacity: 0.35 },
      data: nodes.map((n) => ({ name: n.id, title: n.name, depth: depth(n), label: { width: room(n) },
        itemStyle: { color: COLOURS[n.kind] } })),
      links: drawn.map((l) => ({ source: l.source, target: l.target, value: l.value })),
    }],
  }, drawn.length);
}
