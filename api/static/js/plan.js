// An emergency plan's run on the phone (#plan/{alert id}, the link in an alert's message): the checklist, each step
// with what to do, who, by when (the site's clock) and its state; "Done" on an open step with a note and a photo
// (who from the token, when from the server's clock); where the valves and breakers are, with their photos; the
// outside numbers as tel: links; acknowledge while the alert is active; the incident report. A resolved alert's run
// is closed: nothing is ticked any more.
import { $, api, esc, getJSON, state, t, wall, withLang } from "./core.js";
import { fileURL, saveFile } from "./siteinfo.js";

/** An instant the API sent, as the site's clock reads it: "21:10", or "12-08 01:30" when not on ``sameDay``'s day. */
export function clockOf(iso, sameDay) {
  const w = wall(iso);
  return sameDay && w.date !== wall(sameDay).date ? `${iso.slice(5, 10)} ${w.label}` : w.label;
}

/** A step's deadline: "21:10 前" / "by 21:10" (the site's clock), or its limit in minutes, or none. */
export function dueLabel(step, startedIso) {
  if (step.due) return t("plan_by").replace("{at}", clockOf(step.due, startedIso));
  if (step.within_min !== null && step.within_min !== undefined) {
    return t("plan_within").replace("{n}", String(Math.round(step.within_min)));
  }
  return t("plan_no_limit");
}

export const stateBadge = (s) => `<span class="badge step-${esc(s)}">${esc(t("plan_state")[s] || s)}</span>`;
export const drillBadge = () => `<span class="badge drill" title="${esc(t("drill_note"))}">${esc(t("drill_badge"))}</span>`;
export const canAct = () => Boolean(state.me && (state.me.role === "electrician" || state.me.role === "admin"));

/** The incident report (事件报告) of an alert with a plan, fetched with the token and saved. */
export const saveReport = (id) => saveFile(withLang(`/alerts/${encodeURIComponent(id)}/report`), `incident-${id}.pdf`);

/** An API path the server gave ("/api/v1/plans/…/photo?site=…") as one core.api() takes. */
const apiPath = (url) => url.replace(/^\/api\/v1/, "");

/** Where things are: each place with its building and its photo (fetched with the token once shown). */
export function placesHTML(places) {
  if (!places.length) return `<p class="muted">${esc(t("plan_no_places"))}</p>`;
  return `<ul class="places">${places.map((p) => `<li class="place" data-place="${p.n}">
    <div><span class="badge what">${esc(t("place_what")[p.what] || p.what)}</span> <b>${esc(p.name)}</b></div>
    <div class="muted">${esc(p.building_name)}${p.where ? " · " + esc(p.where) : ""}</div>
    ${p.photo ? `<img class="place-photo" alt="${esc(t("plan_photo"))}: ${esc(p.name)}" data-src="${esc(p.photo)}">` : ""}
  </li>`).join("")}</ul>`;
}

export const contactsHTML = (contacts) => (contacts.length ? `<ul class="contacts">${contacts.map((c) =>
  `<li><a class="tel" href="tel:${esc(c.phone.replace(/[^0-9+]/g, ""))}"><span>${esc(c.name)}</span>` +
  `<b>${esc(c.phone)}</b></a></li>`).join("")}</ul>` : `<p class="muted">${esc(t("plan_no_places"))}</p>`);

/** Every photo under ``root`` waiting for its bytes (data-src: a place's; data-sha: a step's kept file). */
export async function loadPhotos(root) {
  await Promise.all([...root.querySelectorAll("img[data-src], img[data-sha]")].map(async (img) => {
    try {
      img.src = img.dataset.sha ? await fileURL(img.dataset.sha)
        : URL.createObjectURL(await (await api(apiPath(img.dataset.src))).blob());
      img.removeAttribute("data-src");
      img.removeAttribute("data-sha");
    } catch { img.remove(); }
  }));
}

export async function showPlan(section, alertId) {
  if (!alertId) { location.hash = "#drills"; return; }
  const id = encodeURIComponent(alertId);
  if (state.sites?.length > 1) {  // a plan link from another site's message: show that site
    const a = await getJSON(`/alerts/${id}`).catch(() => null);
    if (a?.site && a.site !== state.site && state.sites.some((s) => s.id === a.site)) {
      state.site = a.site;
      $("#site").value = a.site;
    }
  }
  const [a, run] = await Promise.all([getJSON(withLang(`/alerts/${id}`)), getJSON(withLang(`/alerts/${id}/plan`))]);
  const closed = Boolean(run.closed), acts = canAct() && !closed;
  const where = a.building_name && !String(a.subject_name || "").includes(a.building_name)
    ? `${esc(a.building_name)} · ` : "";
  section.innerHTML = `
    <article class="card plan-head sev-${esc(a.severity)}${run.drill ? " drill" : ""}" data-alert="${esc(a.id)}"
      data-status="${esc(a.status)}">
      <header><span class="sev sev-${esc(a.severity)}">${esc(t("severity")[a.severity] || a.severity)}</span>
        ${run.drill ? drillBadge() : ""}<span class="status">${esc(t("status")[a.status] || a.status)}</span></header>
      <h2>${esc(run.name)}</h2>
      <div><b>${esc(a.name)}</b> · ${where}${esc(a.subject_name)}</div>
      <div class="muted">${esc(t("plan_started"))} ${esc(run.started.slice(0, 10))} ${esc(clockOf(run.started))} · #${esc(a.id)}</div>
      ${run.drill ? `<p class="drill-note">${esc(t("drill_note"))}</p>` : ""}
      ${a.status === "acknowledged" ? `<div class="muted">${esc(t("acked_by"))} ${esc(a.acknowledged_by_name ||
        a.acknowledged_by)}${a.acknowledged_at ? " · " + esc(clockOf(a.acknowledged_at, run.started)) : ""}</div>` : ""}
      ${a.status === "resolved" ? `<div class="muted">${esc(t("resolved_by"))} ${esc(a.resolved_by_name || a.resolved_by)}` +
        `${a.resolve_reason ? " · " + esc(a.resolve_reason) : ""}</div>` : ""}
      ${closed ? `<p class="notice closed">${esc(t("plan_closed").replace("{at}", clockOf(run.closed, run.started)))}</p>` : ""}
      <div class="plan-actions">
        ${canAct() && a.status === "active" ? `<button type="button" class="ack primary" id="plan-ack">${esc(t("ack"))}</button>` : ""}
        <a class="button" href="#alerts/${esc(a.id)}">${esc(t("nav_alerts"))} #${esc(a.id)}</a>
        <button type="button" class="report" id="plan-report">${esc(t("plan_report"))}</button>
        <span id="plan-status" class="muted" role="status"></span>
      </div>
    </article>
    <article class="card"><h3>${esc(t("plan_steps"))}</h3>
      <ol class="plan-steps">${run.steps.map((s) => stepHTML(s, run, acts)).join("")}</ol>
      ${acts ? `<p class="muted small">${esc(t("plan_tick_who"))}</p>` : ""}
    </article>
    <div class="grid plan-info">
      <article class="card"><h3>${esc(t("plan_places"))}</h3>${placesHTML(run.places)}</article>
      <article class="card"><h3>${esc(t("plan_contacts"))}</h3>${contactsHTML(run.contacts)}</article>
    </div>`;
  $("#plan-ack")?.addEventListener("click", async (e) => {
    e.target.disabled = true;
    try {
      await api(`/alerts/${id}/ack`, { method: "POST", body: JSON.stringify({ comment: null }) });
      document.body.dataset.acted = String(a.id);
      await state.rerender();
    } catch (err) { e.target.disabled = false; $("#plan-status").textContent = err.message; }
  });
  $("#plan-report").addEventListener("click", async () => {
    $("#plan-status").textContent = t("generating");
    try { $("#plan-status").textContent = `${t("downloaded")}: ${await saveReport(a.id)}`; }
    catch (err) { $("#plan-status").textContent = err.message; }
  });
  section.querySelectorAll("button.tick").forEach((b) => b.addEventListener("click", () => {
    const form = b.nextElementSibling;
    form.hidden = !form.hidden;
    b.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) form.note.focus();
  }));
  section.querySelectorAll("form.tick-form").forEach((f) => f.addEventListener("submit", (e) => tick(e, f, id)));
  section.querySelectorAll("form.tick-form .cancel").forEach((b) => b.addEventListener("click", () => {
    b.form.hidden = true;
  }));
  await loadPhotos(section);
}

function stepHTML(s, run, acts) {
  const open = s.state === "open" || s.state === "overdue";
  const done = s.done_at ? `<div class="done-by">${esc(t("plan_done_by").replace("{who}", s.done_by_name || s.done_by || "—")
    .replace("{at}", clockOf(s.done_at, run.started)))}</div>` : "";
  return `<li class="plan-step step-${esc(s.state)}" data-step="${s.n}" data-state="${esc(s.state)}">
    <div class="step-text">${esc(s.text)}</div>
    <div class="step-meta"><span class="role">${esc(s.role_name)}</span>
      <span class="due${s.state === "overdue" ? " bad" : ""}">${esc(dueLabel(s, run.started))}</span>
      ${stateBadge(s.state)}</div>
    ${done}
    ${s.note ? `<div class="note">${esc(s.note)}</div>` : ""}
    ${s.photos.length ? `<div class="thumbs">${s.photos.map((sha) =>
      `<img alt="${esc(t("round_photos"))}" data-sha="${esc(sha)}">`).join("")}</div>` : ""}
    ${acts && open ? `<button type="button" class="tick" aria-expanded="false">${esc(t("plan_tick"))}</button>
      <form class="tick-form" data-n="${s.n}" hidden>
        <label>${esc(t("plan_tick_note"))} <input type="text" name="note" maxlength="2000"></label>
        <label class="tick-photo">${esc(t("plan_tick_photo"))} <input type="file" name="photo"
          accept="image/jpeg,image/png,image/webp" capture="environment" multiple></label>
        <div class="form-actions"><button type="submit" class="done">${esc(t("plan_tick_submit"))}</button>
          <button type="button" class="cancel">${esc(t("cancel"))}</button></div>
        <p class="error" role="alert"></p>
      </form>` : ""}
  </li>`;
}

async function tick(e, form, id) {
  e.preventDefault();
  const button = form.querySelector("button[type=submit]"), error = form.querySelector(".error");
  const note = form.note.value.trim(), data = new FormData();
  data.append("record", JSON.stringify(note ? { note } : {}));
  for (const f of form.photo.files) data.append("photo", f);
  button.disabled = true;
  error.textContent = "";
  try {
    await api(`/alerts/${id}/plan/steps/${form.dataset.n}`, { method: "POST", body: data });
    document.body.dataset.saved = `${decodeURIComponent(id)}:${form.dataset.n}`;
    await state.rerender();
  } catch (err) {
    button.disabled = false;
    error.textContent = err.message;
  }
}
