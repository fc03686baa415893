// Drinking-water tests (水质检测): what is due, the tests recorded (each parameter against its limit, pass or fail,
// a self-test or which laboratory, when the sample was taken on the site's clock), a self-test recorded on the
// spot, and a laboratory's result uploaded with its PDF.
import { $, api, esc, getJSON, state, t, withLang } from "./core.js";
import { atSite, people, personName, saveFile, siteNowLocal, withSiteOffset } from "./siteinfo.js";

const view = { point: "", kind: "" };
const SELF_FIELDS = ["ph", "turbidity_ntu", "free_chlorine_mgl", "tds_mgl", "temperature_c"];

export async function showWaterTests(section) {
  const q = new URLSearchParams();
  if (view.point) q.set("point", view.point);
  if (view.kind) q.set("kind", view.kind);
  const [points, tests, due, roster] = await Promise.all([getJSON("/water-tests/points"),
    getJSON(withLang("/water-tests?" + q)), getJSON(withLang("/water-tests?due=true")), people()]);
  if (view.point && !points.some((p) => p.id === view.point)) view.point = "";
  const canWrite = state.me.role !== "viewer";
  const late = due.filter((d) => d.kind !== "filter").sort((a, b) =>
    (a.status === b.status ? 0 : a.status === "overdue" ? -1 : 1) || a.due.localeCompare(b.due));
  const overdue = late.filter((d) => d.status === "overdue").length;
  section.innerHTML = `
    <h2>${t("wt_heading")}</h2>
    <div class="toolbar">
      <label>${t("wt_point")} <select id="wt-point"><option value="">${t("hz_all")}</option>${points.map((p) =>
        `<option value="${esc(p.id)}"${p.id === view.point ? " selected" : ""}>${esc(p.name)}</option>`).join("")}
        </select></label>
      <div class="seg" role="group" aria-label="${t("wt_kind_filter")}">${["", "self", "lab"].map((k) =>
        `<button type="button" data-filter="${k}" class="${view.kind === k ? "on" : ""}">` +
        `${k ? t("wt_kind")[k] : t("hz_all")}</button>`).join("")}</div>
      <button type="button" id="wt-notice">${t("dl_notice")} PDF</button>
      ${canWrite ? `<button type="button" id="wt-new-self" class="primary">${t("wt_record_self")}</button>
        <button type="button" id="wt-new-lab" class="primary">${t("wt_upload_lab")}</button>` : ""}
      <span id="wt-status" class="muted" role="status"></span>
    </div>
    <article class="card" id="wt-form-card" hidden></article>
    ${late.length ? `<details class="card wt-due"${overdue ? " open" : ""}><summary><b>${t("wt_due_heading")}</b> ` +
      `${t("wt_due_count").replace("{n}", late.length).replace("{o}", overdue)}</summary><ul class="due-list">${late
      .slice(0, 12).map((d) => `<li class="${d.status}"><div><b>${esc(d.point_name)}</b> · ${t("wt_kind")[d.kind]}<br>
        <small>${t("wt_due_by")} ${esc(d.due)}${d.last ? ` · ${t("wt_last")} ${atSite(d.last, true)}` : ""}</small></div>
        <span class="badge ${d.status}">${t("round_status")[d.status]}</span></li>`).join("")}</ul>
      ${late.length > 12 ? `<p class="muted">${t("wt_more").replace("{n}", late.length - 12)}</p>` : ""}</details>` : ""}
    <div class="wt-list" id="wt-list">${tests.filter((x) => x.kind !== "filter").map((x) => card(x, roster)).join("")
      || `<p class="muted">${t("wt_none")}</p>`}</div>`;
  $("#wt-point").addEventListener("change", (e) => { view.point = e.target.value; state.rerender(); });
  section.querySelectorAll("button[data-filter]").forEach((b) => b.addEventListener("click", () => {
    view.kind = b.dataset.filter; state.rerender();
  }));
  $("#wt-notice").addEventListener("click", async () => {
    $("#wt-status").textContent = t("generating");
    try {
      const name = await saveFile(withLang("/water-tests/notice"), "water-notice.pdf");
      $("#wt-status").textContent = `${t("downloaded")}: ${name}`;
    } catch (err) { $("#wt-status").textContent = err.message; }
  });
  $("#wt-new-self")?.addEventListener("click", () => form(points, "self"));
  $("#wt-new-lab")?.addEventListener("click", () => form(points, "lab"));
}

function card(x, roster) {
  return `<article class="wt-card ${x.passed ? "pass" : "fail"}" data-test="${x.id}">
    <header><span class="badge ${x.passed ? "pass" : "fail"}">${x.passed ? t("wt_pass") : t("wt_fail")}</span>
      <b>${esc(x.point_name)}</b>
      <span class="muted">${x.kind === "lab" ? `${t("wt_kind").lab} · ${esc(x.lab || "")}` : t("wt_kind")[x.kind]}</span></header>
    <div class="who">${t("wt_taken")} ${atSite(x.taken_at)} · ${t("wt_recorded_by")} ${esc(personName(roster, x.recorded_by))}</div>
    <div class="scroll"><table class="data wt-results"><thead><tr><th>${t("wt_param")}</th><th>${t("wt_value")}</th>
      <th>${t("limit")}</th><th>${t("wt_result")}</th></tr></thead><tbody>${x.results.map((r) =>
        `<tr class="${r.ok ? "" : "fail"}" data-field="${esc(r.field)}"><td>${esc(r.name)}</td>` +
        `<td>${number(r.value)}${r.unit ? " " + esc(r.unit) : ""}</td><td>${esc(r.limit)}</td>` +
        `<td>${r.ok ? `<span class="ok">✓ ${t("wt_pass")}</span>` : `<b class="bad">✗ ${t("wt_fail")}</b>`}</td></tr>`)
        .join("")}</tbody></table></div>
    ${x.note ? `<div class="note">${esc(x.note)}</div>` : ""}
    ${x.attachment ? `<button type="button" class="link wt-pdf" data-sha="${esc(x.attachment)}">${t("wt_lab_pdf")}</button>` : ""}
  </article>`;
}

/** A result as the tester wrote it (7.2, 0.002), not padded to a fixed number of decimals. */
const number = (v) => Number(v).toLocaleString(state.lang, { maximumFractionDigits: 6 });

function paramName(field) {
  const n = t("wt_params")[field];
  return n || field;
}

function form(points, kind) {
  const card = $("#wt-form-card");
  card.hidden = false;
  const mine = state.me.zones || [];
  const sorted = [...points].sort((a, b) => (mine.includes(a.zone) ? 0 : 1) - (mine.includes(b.zone) ? 0 : 1));
  card.innerHTML = `<h3>${kind === "lab" ? t("wt_upload_lab") : t("wt_record_self")}</h3>
    <p class="muted">${t("wt_form_help")}</p>
    <form id="wt-form" class="stack" data-kind="${kind}">
      <label>${t("wt_point")} <select name="point" required>${sorted.map((p) =>
        `<option value="${esc(p.id)}"${p.id === view.point ? " selected" : ""}>${esc(p.name)}</option>`).join("")}</select></label>
      <label>${t("wt_taken_at")} <input type="datetime-local" name="taken_at" required value="${siteNowLocal()}"></label>
      ${kind === "lab" ? `<label>${t("wt_lab")} <input type="text" name="lab" required maxlength="200"></label>
        <label>${t("wt_lab_pdf")} <input type="file" name="attachment" accept="application/pdf" required></label>` : ""}
      <fieldset class="wt-values"><legend>${t("wt_values")}</legend><div id="wt-fields"></div></fieldset>
      <label>${t("round_note")} <textarea name="note" rows="2" maxlength="4000"></textarea></label>
      <div class="form-actions"><button type="submit" class="primary">${t("wt_submit")}</button>
        <button type="button" id="wt-cancel">${t("cancel")}</button></div>
      <p class="error" id="wt-error" role="alert"></p><p class="ok" id="wt-saved" role="status"></p>
    </form>`;
  const f = $("#wt-form");
  const fields = () => {
    const p = points.find((x) => x.id === f.point.value);
    const known = Object.keys(p?.limits || {});
    const shown = kind === "self" ? SELF_FIELDS.filter((x) => known.includes(x)) : known;
    $("#wt-fields").innerHTML = shown.map((x) => `<label class="wt-field">${esc(paramName(x))}
      <small class="muted">${t("limit")} ${esc(p.limits[x])}</small>
      <input type="number" step="any" inputmode="decimal" name="v-${esc(x)}" data-field="${esc(x)}"></label>`).join("")
      || `<p class="muted">${t("wt_no_params")}</p>`;
  };
  f.point.addEventListener("change", fields);
  fields();
  $("#wt-cancel").addEventListener("click", () => { card.hidden = true; });
  card.scrollIntoView({ block: "start" });
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const values = {};
    f.querySelectorAll("[data-field]").forEach((i) => { if (i.value !== "") values[i.dataset.field] = Number(i.value); });
    $("#wt-error").textContent = "";
    if (!Object.keys(values).length) { $("#wt-error").textContent = t("wt_need_value"); return; }
    const body = { point: f.point.value, kind, taken_at: withSiteOffset(f.taken_at.value), values,
      note: f.note.value.trim() };
    if (kind === "lab") body.lab = f.lab.value.trim();
    let init;
    if (kind === "lab") {
      const data = new FormData();
      data.append("record", JSON.stringify(body));
      data.append("attachment", f.attachment.files[0]);
      init = { method: "POST", body: data };
    } else {
      init = { method: "POST", body: JSON.stringify(body) };
    }
    try {
      const saved = await (await api(withLang("/water-tests"), init)).json();
      document.body.dataset.saved = String(saved.id);
      await state.rerender();
      const shown = $("#wt-status");
      if (shown) shown.textContent = t(saved.passed ? "wt_saved_pass" : "wt_saved_fail").replace("{id}", saved.id);
    } catch (err) { $("#wt-error").textContent = err.message; }
  });
}

document.addEventListener("click", async (e) => {  // a laboratory's PDF: fetched with the token, opened in a tab
  const b = e.target.closest?.("button.wt-pdf");
  if (!b) return;
  try {
    await saveFile(`/files/${encodeURIComponent(b.dataset.sha)}`, "lab-report.pdf");
  } catch (err) { b.textContent = err.message; }
});
