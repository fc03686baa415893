// The hazard ledger (隐患排查台账): what was found in the token's scope, the most urgent first (open before assigned
// before fixed; overdue, then the earliest due, then the newest); an electrician reports one with photos and moves
// it along as the API allows (open → assigned → fixed; assigned again to hand it to someone else).
import { $, api, campus, devices, esc, getJSON, state, t, withLang } from "./core.js";
import { atSite, fileURL, people, personName, saveFile, siteToday } from "./siteinfo.js";

const view = { status: "" };
const STATUSES = ["open", "assigned", "fixed"];

/** Most urgent first: by status, overdue before the rest, the earliest due date, then the newest. */
export function urgency(hazards, today) {
  const rank = (h) => STATUSES.indexOf(h.status);
  const overdue = (h) => (h.status !== "fixed" && h.due && h.due < today ? 0 : 1);
  return [...hazards].sort((a, b) => rank(a) - rank(b) || overdue(a) - overdue(b)
    || (a.due || "9999").localeCompare(b.due || "9999") || b.reported_at.localeCompare(a.reported_at));
}

export async function showHazards(section) {
  const q = view.status ? `?status=${view.status}` : "";
  const [c, roster, rows] = await Promise.all([campus(), people(), getJSON(withLang("/hazards" + q))]);
  const canWrite = state.me.role !== "viewer", today = siteToday();
  const list = urgency(rows, today);
  section.innerHTML = `
    <h2>${t("hz_heading")}</h2>
    <div class="toolbar">
      <div class="seg" role="group" aria-label="${t("hz_status_filter")}">${["", ...STATUSES].map((s) =>
        `<button type="button" data-filter="${s}" class="${view.status === s ? "on" : ""}">` +
        `${s ? t("hz_status")[s] : t("hz_all")}</button>`).join("")}</div>
      <div class="seg" id="hz-downloads" role="group" aria-label="${t("hz_ledger")}">
        <button type="button" data-format="xlsx">${t("hz_ledger")} Excel</button>
        <button type="button" data-format="pdf">${t("hz_ledger")} PDF</button></div>
      ${canWrite ? `<button type="button" id="hz-new" class="primary">${t("hz_report")}</button>` : ""}
      <span id="hz-status" class="muted" role="status"></span>
    </div>
    <article class="card" id="hz-form-card" hidden></article>
    <div class="hz-list" id="hz-list">${list.map((h) => card(h, c, roster, canWrite, today)).join("")
      || `<p class="muted">${t("hz_none")}</p>`}</div>`;
  section.querySelectorAll("button[data-filter]").forEach((b) => b.addEventListener("click", () => {
    view.status = b.dataset.filter; state.rerender();
  }));
  section.querySelectorAll("#hz-downloads button").forEach((b) => b.addEventListener("click", async () => {
    $("#hz-status").textContent = t("generating");
    try {
      const name = await saveFile(withLang(`/hazards?format=${b.dataset.format}`), `hazards.${b.dataset.format}`);
      $("#hz-status").textContent = `${t("downloaded")}: ${name}`;
    } catch (err) { $("#hz-status").textContent = err.message; }
  }));
  $("#hz-new")?.addEventListener("click", () => reportForm(c));
  section.querySelectorAll("form.hz-move").forEach((f) => f.addEventListener("submit", (e) => move(e, f)));
  section.querySelectorAll("button.hz-history").forEach((b) => b.addEventListener("click", () => history(b, roster)));
}

function card(h, c, roster, canWrite, today) {
  const b = h.building ? c.building[h.building] : null;
  const zone = c.zones.find((z) => z.id === h.zone);
  const where = b ? `${esc(b.name)}${b.zone_name ? " · " + esc(b.zone_name) : ""}`
    : zone ? esc(zone.name) : esc(c.site.name);
  const overdue = h.status !== "fixed" && h.due && h.due < today;
  const who = (x) => esc(personName(roster, x));
  const lines = [
    `${t("hz_reported")} ${who(h.reported_by)} · ${atSite(h.reported_at)}`,
    h.assigned_to ? `${t("hz_assigned_to")} <b>${who(h.assigned_to)}</b> · ${atSite(h.assigned_at)}` : "",
    h.due ? `<span class="${overdue ? "bad" : ""}">${t("hz_due")} ${esc(h.due)}${overdue ? " · " + t("hz_overdue") : ""}` +
      "</span>" : "",
    h.fixed_by ? `${t("hz_fixed_by")} ${who(h.fixed_by)} · ${atSite(h.fixed_at)}` : "",
  ].filter(Boolean);
  return `<article class="hz-card st-${h.status}${overdue ? " overdue" : ""}" data-hazard="${h.id}" data-status="${h.status}">
    <header><span class="badge hz-${h.status}">${t("hz_status")[h.status]}</span>
      <b class="hz-title">${esc(h.title)}</b><small class="muted">#${h.id}</small></header>
    <div class="where">${where}</div>
    ${lines.map((l) => `<div class="who">${l}</div>`).join("")}
    ${h.note ? `<div class="note">${esc(h.note)}</div>` : ""}
    ${h.photos.length || h.status !== "open" ? `<button type="button" class="link hz-history" data-id="${h.id}">` +
      `${t("hz_history")}</button><div class="hz-steps"></div>` : ""}
    ${canWrite && h.status !== "fixed" ? moveForms(h, roster) : ""}
  </article>`;
}

function moveForms(h, roster) {
  const options = roster.map((p) => `<option value="${esc(p.id)}"${p.id === h.assigned_to ? " selected" : ""}>` +
    `${esc(p.name)}</option>`).join("");
  return `<details class="hz-act"><summary>${t("hz_handle")}</summary>
    <form class="hz-move" data-id="${h.id}" data-to="assigned">
      <label>${h.status === "assigned" ? t("hz_reassign_to") : t("hz_assign_to")}
        <select name="assigned_to" required><option value="">—</option>${options}</select></label>
      <label>${t("hz_due")} <input type="date" name="due" value="${esc(h.due || "")}"></label>
      <label class="wide">${t("round_note")} <input type="text" name="note" maxlength="4000"></label>
      <button type="submit">${h.status === "assigned" ? t("hz_reassign") : t("hz_assign")}</button>
    </form>
    <form class="hz-move" data-id="${h.id}" data-to="fixed">
      <label class="wide">${t("hz_fix_note")} <textarea name="note" rows="2" maxlength="4000" required></textarea></label>
      <label class="wide">${t("hz_fix_photos")} <input type="file" name="photo" multiple
        accept="image/jpeg,image/png,image/webp" capture="environment"></label>
      <button type="submit" class="done">${t("hz_fixed_button")}</button>
    </form>
    <p class="error" role="alert"></p></details>`;
}

async function move(e, form) {
  e.preventDefault();
  const body = { status: form.dataset.to, note: form.note.value.trim() };
  if (body.status === "assigned") {
    body.assigned_to = form.assigned_to.value;
    if (form.due.value) body.due = form.due.value;
  }
  const data = new FormData();
  data.append("record", JSON.stringify(body));
  for (const f of form.photo?.files || []) data.append("photo", f);
  const error = form.parentElement.querySelector(".error");
  error.textContent = "";
  try {
    const moved = await (await api(`/hazards/${form.dataset.id}`, { method: "PATCH", body: data })).json();
    document.body.dataset.saved = `${moved.id}:${moved.status}`;
    await state.rerender();
  } catch (err) { error.textContent = err.message; }
}

/** What happened to it, step by step (who, when, what was done), with every photo fetched with the token. */
async function history(button, roster) {
  const h = await getJSON(`/hazards/${button.dataset.id}`);
  const box = button.nextElementSibling;
  const steps = h.steps.length ? h.steps
    : [{ at: h.reported_at, by: h.reported_by, status: "open", note: h.note, photos: h.photos }];
  box.innerHTML = `<ol class="plain">${steps.map((s) => `<li><b>${t("hz_step")[s.status] || esc(s.status)}</b> · ` +
    `${esc(personName(roster, s.by))} · ${atSite(s.at)}${s.note ? `<div class="note">${esc(s.note)}</div>` : ""}` +
    `<div class="thumbs"></div></li>`).join("")}</ol>`;
  const rows = box.querySelectorAll(".thumbs");
  for (const [i, s] of steps.entries()) {
    for (const sha of s.photos) {
      const img = document.createElement("img");
      img.alt = t("round_photos");
      img.src = await fileURL(sha);
      rows[i].appendChild(img);
    }
  }
  button.hidden = true;
}

async function reportForm(c) {
  const devs = await devices();
  const card = $("#hz-form-card");
  card.hidden = false;
  const mine = state.me.zones || [];  // an electrician's own zones first
  // a token narrowed to zones or buildings reports in one of its buildings, never for the whole site
  const narrowed = Boolean(state.me.scope?.zones?.length || state.me.scope?.buildings?.length);
  const buildings = [...c.buildings].sort((a, b) => (mine.includes(a.zone) ? 0 : 1) - (mine.includes(b.zone) ? 0 : 1));
  card.innerHTML = `<h3>${t("hz_report")}</h3><p class="muted">${t("round_who_when")}</p>
    <form id="hz-form" class="stack">
      <label>${t("hz_title")} <input type="text" name="what" required maxlength="500"></label>
      <label>${t("building_col")} <select name="building"${narrowed ? " required" : ""}><option value="">${narrowed
        ? "—" : t("hz_site_wide")}</option>${buildings.map((b) =>
        `<option value="${esc(b.id)}">${esc(b.name)}${b.zone_name ? " · " + esc(b.zone_name) : ""}</option>`).join("")}
        </select></label>
      <label>${t("device_col")} <select name="device"><option value="">—</option></select></label>
      <label>${t("hz_due")} <input type="date" name="due"></label>
      <label>${t("round_note")} <textarea name="note" rows="2" maxlength="4000"></textarea></label>
      <label>${t("round_photos")} <input type="file" name="photo" multiple accept="image/jpeg,image/png,image/webp"
        capture="environment"></label>
      <div class="form-actions"><button type="submit" class="primary">${t("hz_submit")}</button>
        <button type="button" id="hz-cancel">${t("cancel")}</button></div>
      <p class="error" id="hz-error" role="alert"></p>
    </form>`;
  const form = $("#hz-form");
  form.building.addEventListener("change", () => {
    const here = devs.filter((d) => d.building === form.building.value);
    form.device.innerHTML = `<option value="">—</option>` + here.map((d) =>
      `<option value="${esc(d.id)}">${esc(d.name || d.id)}</option>`).join("");
  });
  $("#hz-cancel").addEventListener("click", () => { card.hidden = true; });
  card.scrollIntoView({ block: "start" });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { title: form.what.value.trim(), note: form.note.value.trim() };
    if (form.building.value) body.building = form.building.value;
    if (form.device.value) body.device = form.device.value;
    if (form.due.value) body.due = form.due.value;
    const data = new FormData();
    data.append("record", JSON.stringify(body));
    for (const f of form.photo.files) data.append("photo", f);
    $("#hz-error").textContent = "";
    try {
      const saved = await (await api("/hazards", { method: "POST", body: data })).json();
      document.body.dataset.saved = `${saved.id}:${saved.status}`;
      view.status = "";
      await state.rerender();
    } catch (err) { $("#hz-error").textContent = err.message; }
  });
}
