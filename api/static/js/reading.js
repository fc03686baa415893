// Meter reading by hand (抄表) on the phone: this month's meters per zone (the electrician's own zone first), a field
// for each register with the last reading beside it so a typo shows, the camera for the dial, the confirm step for
// a big jump, and how many are done and left. Who and when come from the token and the server's clock.
import { $, esc, fmt, getJSON, state, t, token, when, withSite } from "./core.js";

const STATUS_ORDER = { overdue: 0, due: 1, done: 2 };

export async function showReading(section) {
  const rounds = await getJSON("/readings/manual/due");
  const me = state.me || {}, scope = me.scope || {};
  const own = new Set([...(me.zones || []), ...(scope.zones || [])]);
  const mine = (r) => (own.has(r.zone) ? 0 : 1);
  const zones = [...rounds].sort((a, b) => mine(a) - mine(b) || STATUS_ORDER[a.status] - STATUS_ORDER[b.status]);
  const canRecord = me.role !== "viewer";
  const month = zones[0]?.month || "";
  section.innerHTML = `
    <h2>${t("reading_heading")}</h2>
    <p class="reading-count" id="reading-count" aria-live="polite"></p>
    ${zones.length ? zones.map((r) => `<article class="card reading-zone" data-zone="${esc(r.zone)}">
      <h3>${esc(r.zone_name)} <span class="badge ${r.status}">${t("reading_status")[r.status]}</span>${mine(r) === 0
        ? ` <span class="badge mine">${t("round_mine")}</span>` : ""}</h3>
      <p class="muted"><span class="nowrap">${t("reading_month").replace("{month}", esc(r.month))}</span> ·
        <span class="nowrap">${t("reading_due_by").replace("{date}", esc(r.due_by))}</span> ·
        <span class="nowrap">${t("round_assigned")} ${r.assigned.map((p) => `<span class="who">${esc(p.name)}</span>`)
          .join("、") || "—"}</span></p>
      <ul class="reading-list">${[...r.meters].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status])
        .map((m) => meterItem(m, canRecord)).join("")}</ul>
    </article>`).join("") : `<p class="muted card">${t("reading_none")}</p>`}
    ${canRecord ? `<p class="muted">${t("round_who_when")}</p>` : ""}`;
  section.dataset.month = month;
  const meters = Object.fromEntries(zones.flatMap((r) => r.meters.map((m) => [m.device, m])));
  section.querySelectorAll("form.reading-form").forEach((form) => wire(form, meters[form.dataset.device]));
  count(section);
}

function lastLine(m) {
  if (!m.last) return `<span class="muted">${t("reading_last_none")}</span>`;
  return `${t("reading_last")} <b class="last-value">${fmt(m.last.value, 2)}</b> ${esc(m.unit)} · ` +
    `<time>${when(m.last.at)}</time>${m.last.manual ? ` · ${t("reading_by_hand")}` : ""}`;
}

function meterItem(m, canRecord) {
  const id = `rd-${esc(m.device)}`;
  return `<li class="meter ${m.status}" data-device="${esc(m.device)}" data-status="${m.status}">
    <div class="meter-head"><b>${esc(m.name)}</b> · <span class="nowrap">${esc(m.building_name)}</span>
      <span class="badge ${m.status}" data-badge>${t("reading_status")[m.status]}</span></div>
    ${canRecord && m.status === "done" ? `<div class="last">${lastLine(m)}</div>
      <details class="read-again"><summary>${t("reading_again")}</summary>` : ""}
    ${canRecord ? `<form class="reading-form" data-device="${esc(m.device)}" novalidate>
      <label for="${id}">${t("reading_field")[m.field] || esc(m.field)} (${esc(m.unit)})</label>
      <div class="reading-input">
        <input id="${id}" type="number" name="register" inputmode="decimal" step="any" min="0" required
          autocomplete="off">
        <span class="unit">${esc(m.unit)}</span>
      </div>
      <div class="last" data-last>${lastLine(m)}</div>
      <div class="diff" data-diff aria-live="polite"></div>
      <label class="dial-photo">${t("reading_photo")}
        <input type="file" name="photo" accept="image/*" capture="environment"></label>
      <label class="replacement"><input type="checkbox" name="replacement"> ${t("reading_replacement")}</label>
      <input type="text" name="note" maxlength="2000" placeholder="${t("reading_note")}">
      <button type="submit">${t("reading_submit")}</button>
      <div class="confirm-jump" data-confirm hidden>
        <p class="warn" data-confirm-text></p><p class="muted small" data-confirm-said></p>
        <button type="button" data-yes>${t("reading_confirm")}</button>
        <button type="button" class="secondary" data-no>${t("reading_fix")}</button>
      </div>
      <p class="error" role="alert" data-error></p><p class="ok" data-ok></p>
    </form>${m.status === "done" ? "</details>" : ""}` : `<div class="last">${lastLine(m)}</div>`}
  </li>`;
}

/** Done and left this month, over every zone shown. */
function count(section) {
  const all = [...section.querySelectorAll("li.meter")], done = all.filter((li) => li.dataset.status === "done").length;
  const box = $("#reading-count");
  if (box) {
    box.innerHTML = all.length ? t("reading_count").replace("{done}", `<b>${done}</b>`)
      .replace("{total}", `<b>${all.length}</b>`).replace("{left}", `<b>${all.length - done}</b>`) : "";
    box.dataset.done = String(done);
    box.dataset.left = String(all.length - done);
  }
}

function wire(form, m) {
  const input = form.register, diff = form.querySelector("[data-diff]");
  const showDiff = () => {  // the rise against the last reading as it is typed: a typo shows before it is sent
    diff.className = "diff";
    diff.textContent = "";
    const v = Number(input.value);
    if (input.value === "" || !Number.isFinite(v) || !m.last) return;
    const rise = v - m.last.value;
    if (rise < 0 && !form.replacement.checked) {
      diff.classList.add("bad");
      diff.textContent = t("reading_lower").replace("{last}", fmt(m.last.value, 2));
      return;
    }
    diff.textContent = `${rise >= 0 ? "+" : ""}${fmt(rise, 2)} ${m.unit} ${t("reading_since_last")}`;
    if (rise * m.multiplier > (m.rated_capacity ?? Infinity) * hoursSince(m.last.at)) diff.classList.add("warn");
  };
  input.addEventListener("input", showDiff);
  form.replacement.addEventListener("change", showDiff);
  const box = form.querySelector("[data-confirm]");
  form.querySelector("[data-no]").addEventListener("click", () => { box.hidden = true; input.focus(); });
  form.querySelector("[data-yes]").addEventListener("click", () => send(form, m, true));
  form.addEventListener("submit", (e) => { e.preventDefault(); send(form, m, false); });
}

const hoursSince = (iso) => Math.max(0, (Date.now() - new Date(iso)) / 3600000);

async function send(form, m, confirm) {
  const error = form.querySelector("[data-error]"), ok = form.querySelector("[data-ok]");
  const box = form.querySelector("[data-confirm]");
  error.textContent = ok.textContent = "";
  const v = Number(form.register.value);
  if (form.register.value === "" || !Number.isFinite(v) || v < 0) {
    error.textContent = t("reading_missing");
    form.register.focus();
    return;
  }
  const record = { device: m.device, values: { [m.field]: v }, note: form.note.value.trim(),
    replacement: form.replacement.checked, confirm };
  const data = new FormData();
  data.append("record", JSON.stringify(record));
  for (const file of form.photo.files) data.append("photo", file);
  form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    const resp = await fetch("/api/v1" + withSite("/readings/manual"), { method: "POST", body: data,
      headers: { Authorization: "Bearer " + token() } });
    const body = await resp.json().catch(() => ({}));
    const said = typeof body.detail === "string" ? body.detail : resp.statusText;
    if (resp.status === 409) {  // a rise past the rated capacity: say it with the numbers, then confirm or fix
      const rise = (v - (m.last?.value ?? 0)) * m.multiplier, hours = m.last ? hoursSince(m.last.at) : 0;
      const times = m.multiplier !== 1 ? t("reading_times").replace("{m}", fmt(m.multiplier, 0)) : "";
      form.querySelector("[data-confirm-text]").textContent = t("reading_jump")
        .replace("{rise}", fmt(rise, 1)).replace("{times}", times).replaceAll("{unit}", m.unit)
        .replace("{cap}", fmt(m.rated_capacity, 1)).replace("{rate}", m.unit === "kWh" ? "kW" : "m³/h")
        .replace("{hours}", fmt(hours, 0)).replace("{max}", fmt((m.rated_capacity || 0) * hours, 1));
      form.querySelector("[data-confirm-said]").textContent = said;
      box.hidden = false;
      document.body.dataset.confirming = m.device;
      return;
    }
    if (!resp.ok) { error.textContent = said; return; }
    saved(form, m, body);
  } catch (err) {
    error.textContent = err.message;
  } finally {
    form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
  }
}

function saved(form, m, row) {
  const li = form.closest("li.meter"), section = form.closest("section");
  form.querySelector("[data-confirm]").hidden = true;
  form.querySelector("[data-ok]").textContent = t("reading_saved").replace("{value}", fmt(row.values[m.field], 2))
    .replace("{unit}", m.unit).replace("{who}", row.read_by);
  m.last = { at: row.read_at, value: row.values[m.field], manual: true };
  form.querySelector("[data-last]").innerHTML = lastLine(m);
  form.register.value = "";
  form.note.value = "";
  form.photo.value = "";
  form.replacement.checked = false;
  form.querySelector("[data-diff]").textContent = "";
  li.dataset.status = "done";
  li.className = "meter done";
  const badge = li.querySelector("[data-badge]");
  badge.className = "badge done";
  badge.textContent = t("reading_status").done;
  document.body.dataset.saved = String(row.id);
  delete document.body.dataset.confirming;
  if (section) count(section);
}
