// Check rounds on the phone: what is due (and who the roster has on it), a round recorded item by item with photos
// (who and when come from the token and the server), and the rounds recorded lately.
import { $, api, esc, getJSON, state, t, when, withLang } from "./core.js";

export async function showRounds(section, templateArg) {
  const [due, templates, recent] = await Promise.all([
    getJSON(withLang("/inspections/due")), getJSON(withLang("/inspections/templates")),
    getJSON(withLang("/inspections?limit=10"))]);
  const byId = Object.fromEntries(templates.map((x) => [x.id, x]));
  const canRecord = state.me.role !== "viewer";
  // one line per round and place: the newest window (today's when it is due), and how many were missed
  const byPlace = new Map();
  for (const d of due) {
    const key = `${d.template}|${d.zone}|${d.building || ""}`, g = byPlace.get(key);
    const missed = (g?.missed || 0) + (d.status === "overdue" ? 1 : 0);
    byPlace.set(key, { ...(g && g.end > d.end ? g : d), missed, status: (g?.status === "due" || d.status === "due")
      ? "due" : "overdue" });
  }
  const groups = [...byPlace.values()].sort((a, b) => (a.status === b.status ? 0 : a.status === "overdue" ? -1 : 1));
  section.innerHTML = `
    <h2>${t("rounds_heading")}</h2>
    <article class="card"><h3>${t("rounds_due")}</h3>
      ${groups.length ? `<ul class="due-list">${groups.map((g, i) => `<li class="${g.status}">
        <div><b>${esc(g.name)}</b> · ${esc(g.place_name)}<br>
          <small>${g.start === g.end ? g.start : `${g.start} – ${g.end}`} ·
          ${t("round_assigned")} ${g.assigned.map((p) => esc(p.name)).join("、") || "—"}</small></div>
        <span class="badge ${g.status}">${t("round_status")[g.status]}</span>${g.status === "due" && g.missed
          ? `<span class="badge overdue">${t("round_status").overdue} ×${g.missed}</span>`
          : g.missed > 1 ? `<span class="badge overdue">×${g.missed}</span>` : ""}
        ${canRecord ? `<button type="button" data-due="${i}">${t("round_record")}</button>` : ""}</li>`).join("")}
        </ul>` : `<p class="muted">${t("rounds_none_due")}</p>`}
    </article>
    <article class="card" id="round-form-card" hidden></article>
    <article class="card"><h3>${t("rounds_recent")}</h3>
      ${recent.length ? `<ul class="rounds-recent">${recent.map((r) => `<li>#${r.id} ${esc(r.template_name)} ·
        ${esc(r.building || r.zone)} · ${esc(r.recorded_by)} · ${when(r.recorded_at)}
        ${r.problems ? `<span class="badge overdue">${r.problems} ${t("round_problems")}</span>` : ""}</li>`).join("")}
        </ul>` : `<p class="muted">${t("rounds_none")}</p>`}
    </article>`;
  section.querySelectorAll("[data-due]").forEach((b) => b.addEventListener("click", () => {
    const d = groups[Number(b.dataset.due)];
    openForm(byId[d.template], d.zone, d.building);
  }));
  if (templateArg && byId[templateArg] && canRecord) {
    const d = due.find((x) => x.template === templateArg);
    openForm(byId[templateArg], d?.zone, d?.building);
  }
}

function openForm(template, zone, building) {
  const card = $("#round-form-card");
  card.hidden = false;
  card.innerHTML = `<h3>${esc(template.name)}</h3><p class="muted">${t("round_who_when")}</p>
    <form id="round-form">
      <ol class="checklist">${template.items.map((item, i) => `<li>
        <div class="item-text">${esc(item)}</div>
        <label><input type="radio" name="item-${i}" value="ok" checked> ${t("round_ok")}</label>
        <label><input type="radio" name="item-${i}" value="problem"> ${t("round_problem")}</label>
        <input type="text" name="note-${i}" placeholder="${t("round_item_note")}" maxlength="2000">
      </li>`).join("")}</ol>
      <label>${t("round_note")} <textarea name="note" rows="2" maxlength="4000"></textarea></label>
      <label>${t("round_photos")} <input type="file" name="photo" accept="image/jpeg,image/png,image/webp"
        capture="environment" multiple></label>
      <button type="submit">${t("round_submit")}</button>
      <p class="error" id="round-error"></p><p class="ok" id="round-saved"></p>
    </form>`;
  card.scrollIntoView({ block: "start" });
  $("#round-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target, data = new FormData();
    const items = template.items.map((_, i) => ({ item: i, ok: f[`item-${i}`].value === "ok",
      note: f[`note-${i}`].value.trim() }));
    data.append("record", JSON.stringify({ template: template.id, zone, building, items, note: f.note.value.trim() }));
    for (const file of f.photo.files) data.append("photo", file);
    $("#round-error").textContent = "";
    try {
      const saved = await (await api("/inspections", { method: "POST", body: data })).json();
      $("#round-saved").textContent = t("round_saved").replace("{id}", saved.id).replace("{n}", saved.hazards.length);
      document.body.dataset.saved = String(saved.id);
    } catch (err) {
      $("#round-error").textContent = err.message;
    }
  });
}
