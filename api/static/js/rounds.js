// Check rounds on the phone: what is due (and who the roster has on it), a round recorded item by item with photos
// (who and when come from the token and the server), and the rounds recorded lately.
import { $, api, campus, esc, getJSON, state, t, when, withLang } from "./core.js";
import { people, personName } from "./siteinfo.js";

export async function showRounds(section, templateArg) {
  const [due, templates, recent, site, roster] = await Promise.all([
    getJSON(withLang("/inspections/due")), getJSON(withLang("/inspections/templates")),
    getJSON(withLang("/inspections?limit=10")), campus(), people()]);
  // what a person reads for where a round was: the building's or zone's name, never its id
  const placeName = (r) => (r.building ? site.building[r.building]?.name
    : site.zones.find((z) => z.id === r.zone)?.name) || r.building || r.zone;
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
  // the electrician's own zone first (the roster's zones for them, else their token's), then overdue before due
  const me = state.me || {}, scope = me.scope || {};
  const ownZones = new Set([...(me.zones || []), ...(scope.zones || [])]);
  const ownBuildings = new Set(scope.buildings || []);
  const mine = (g) => ownZones.has(g.zone) || (g.building && ownBuildings.has(g.building)) ? 0 : 1;
  const urgency = (g) => (g.status === "overdue" ? 0 : 1);
  const groups = [...byPlace.values()].map((g) => ({ ...g, mine: mine(g) === 0 }))
    .sort((a, b) => mine(a) - mine(b) || urgency(a) - urgency(b));
  section.innerHTML = `
    <h2>${t("rounds_heading")}</h2>
    <article class="card"><h3>${t("rounds_due")}</h3>
      ${groups.length ? `<ul class="due-list">${groups.map((g, i) => `<li class="${g.status}${g.mine ? " mine" : ""}"
        data-zone="${esc(g.zone)}">
        <div><b>${esc(g.name)}</b> · ${esc(g.place_name)}${g.mine ? ` <span class="badge mine">${t("round_mine")}</span>`
          : ""}<br>
          <small><time>${esc(g.start === g.end ? g.start : `${g.start} – ${g.end}`)}</time> ·
          ${t("round_assigned")} ${g.assigned.map((p) => `<span class="who">${esc(p.name)}</span>`).join("、") || "—"}</small></div>
        <span class="badge ${g.status}">${t("round_status")[g.status]}</span>${g.status === "due" && g.missed
          ? `<span class="badge overdue">${t("round_status").overdue} ×${g.missed}</span>`
          : g.missed > 1 ? `<span class="badge overdue">×${g.missed}</span>` : ""}
        ${canRecord ? `<button type="button" data-due="${i}">${t("round_record")}</button>` : ""}</li>`).join("")}
        </ul>` : `<p class="muted">${t("rounds_none_due")}</p>`}
    </article>
    <article class="card" id="round-form-card" hidden></article>
    <article class="card"><h3>${t("rounds_recent")}</h3>
      ${recent.length ? `<ul class="rounds-recent">${recent.map((r) => `<li>#${r.id} ${esc(r.template_name)} ·
        ${esc(placeName(r))} · <span class="who">${esc(personName(roster, r.recorded_by))}</span> ·
        <time>${when(r.recorded_at)}</time>
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
  // no item is answered until the electrician answers it: there is no default (an unchecked item is refused)
  card.innerHTML = `<h3>${esc(template.name)}</h3><p class="muted">${t("round_who_when")}</p>
    <form id="round-form" novalidate>
      <ol class="checklist">${template.items.map((item, i) => `<li data-item="${i}">
        <div class="item-text">${esc(item)}</div>
        <div class="answer">
          <label class="choice"><input type="radio" name="item-${i}" value="ok"> ${t("round_ok")}</label>
          <label class="choice"><input type="radio" name="item-${i}" value="problem"> ${t("round_problem")}</label>
        </div>
        <input type="text" name="note-${i}" placeholder="${t("round_item_note")}" maxlength="2000">
        <label class="item-photo">${t("round_item_photo")}
          <input type="file" name="photo-${i}" accept="image/jpeg,image/png,image/webp" capture="environment"
            multiple></label>
      </li>`).join("")}</ol>
      <label>${t("round_note")} <textarea name="note" rows="2" maxlength="4000"></textarea></label>
      <button type="submit">${t("round_submit")}</button>
      <p class="error" id="round-error" role="alert"></p><p class="ok" id="round-saved"></p>
    </form>`;
  card.scrollIntoView({ block: "start" });
  const form = $("#round-form");
  form.addEventListener("change", (e) => {  // an answered item is no longer marked missing
    const li = e.target.closest("li[data-item]");
    if (li && e.target.type === "radio") li.classList.remove("missing");
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target, data = new FormData();
    const answer = (i) => f.querySelector(`input[name="item-${i}"]:checked`)?.value;
    const missing = template.items.map((_, i) => i).filter((i) => !answer(i));
    f.querySelectorAll("li[data-item]").forEach((li) => li.classList.toggle("missing",
      missing.includes(Number(li.dataset.item))));
    $("#round-error").textContent = "";
    if (missing.length) {
      $("#round-error").textContent = t("round_unanswered").replace("{items}",
        missing.map((i) => `${i + 1}. ${template.items[i]}`).join(state.lang.startsWith("zh") ? "；" : "; "));
      f.querySelector(`li[data-item="${missing[0]}"]`).scrollIntoView({ block: "center" });
      return;
    }
    const items = template.items.map((_, i) => ({ item: i, ok: answer(i) === "ok",
      note: f[`note-${i}`].value.trim() }));
    data.append("record", JSON.stringify({ template: template.id, zone, building, items, note: f.note.value.trim() }));
    template.items.forEach((_, i) => { for (const file of f[`photo-${i}`].files) data.append(`photo-${i}`, file); });
    try {
      const saved = await (await api("/inspections", { method: "POST", body: data })).json();
      $("#round-saved").textContent = t("round_saved").replace("{id}", saved.id).replace("{n}", saved.hazards.length);
      document.body.dataset.saved = String(saved.id);
    } catch (err) {
      $("#round-error").textContent = err.message;
    }
  });
}
