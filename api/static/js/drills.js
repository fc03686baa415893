// 应急演练: the plans due for a drill (like check rounds: this term's, month's or year's, then overdue), the drills
// held with what each measured (time to the first message, the acknowledgement and the resolution, steps skipped or
// late, the path check) and its record (PDF); an admin starts one; and the site's plans, each with its steps, places
// and outside numbers.
import { $, api, campus, devices, esc, getJSON, state, t, wall, withLang } from "./core.js";
import { contactsHTML, drillBadge, loadPhotos, placesHTML } from "./plan.js";
import { atSite, people, personName, saveFile } from "./siteinfo.js";

/** Seconds as mm:ss (a drill's figures); "—" for what did not happen. */
export function mmss(s) {
  if (s === null || s === undefined) return "—";
  const n = Math.max(0, Math.round(s));
  return `${String(Math.floor(n / 60)).padStart(2, "0")}:${String(n % 60).padStart(2, "0")}`;
}

export async function showDrills(section, planArg) {
  const isAdmin = state.me.role === "admin", mayStart = state.me.role !== "viewer";
  const [rows, due, plans, c, roster, rules] = await Promise.all([
    getJSON(withLang("/drills?limit=50")), getJSON(withLang("/drills/due")), getJSON(withLang("/plans")), campus(),
    people(), getJSON("/rules").catch(() => [])]);
  const ruleName = Object.fromEntries(rules.map((r) => [r.id, r.name?.[state.lang === "en" ? "en" : "zh"] || r.id]));
  section.innerHTML = `
    <h2>${esc(t("drills_heading"))}</h2>
    <div class="grid drills-top">
      <article class="card" id="drills-due"><h3>${esc(t("drills_due"))}</h3>${dueHTML(due, isAdmin)}</article>
      ${isAdmin ? `<article class="card" id="drill-start"><h3>${esc(t("drills_start"))}</h3>
        <p class="muted">${esc(t("drills_start_help"))}</p>${formHTML(plans, c)}</article>` : ""}
    </div>
    <article class="card" id="drills-list"><h3>${esc(t("drills_list"))} <small>${esc(t("drills_fig_help"))}</small></h3>
      ${rows.length ? `<ul class="drills">${rows.map((d) => drillHTML(d, roster)).join("")}</ul>`
        : `<p class="muted">${esc(t("drills_none"))}</p>`}
    </article>
    <article class="card" id="plans"><h3>${esc(t("plans_heading"))}</h3>
      ${plans.length ? plans.map((p) => planHTML(p, ruleName, p.id === planArg, mayStart ? c : null)).join("")
        : `<p class="muted">${esc(t("plans_none"))}</p>`}
    </article>`;
  section.querySelectorAll("button.record").forEach((b) => b.addEventListener("click", async () => {
    const status = b.parentElement.querySelector(".dl-status");
    status.textContent = t("generating");
    try { status.textContent = `${t("downloaded")}: ${await saveFile(withLang(`/drills/${b.dataset.id}/record`),
      `drill-${b.dataset.id}.pdf`)}`; } catch (err) { status.textContent = err.message; }
  }));
  // a plan's photos are fetched (with the token) when it is opened
  section.querySelectorAll("details.plan").forEach((d) => d.addEventListener("toggle", () => {
    if (d.open) loadPhotos(d);
  }));
  if (isAdmin) await startForm();
  // a plan started by hand (人工启动): a real alert with its checklist, for trouble no meter sees first
  section.querySelectorAll("form.plan-start").forEach((f) => f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = f.querySelector(".error");
    error.textContent = "";
    if (!f.building.value) { error.textContent = t("drills_need_building"); return; }
    try {
      const run = await (await api(`/plans/${encodeURIComponent(f.dataset.plan)}/start`, { method: "POST",
        body: JSON.stringify({ building: f.building.value, note: f.note.value }) })).json();
      location.hash = `#plan/${run.alert_id}`;
    } catch (err) { error.textContent = err.message; }
  }));
  const opened = planArg && section.querySelector(`details.plan[data-plan="${CSS.escape(planArg)}"]`);
  if (opened) { await loadPhotos(opened); opened.scrollIntoView({ block: "start" }); }
}

function dueHTML(due, isAdmin) {
  if (!due.length) return `<p class="muted">${esc(t("drills_none_due"))}</p>`;
  return `<ul class="due-list drills-due">${due.map((d) => `<li class="${esc(d.status)}" data-plan="${esc(d.plan)}">
    <div><b>${esc(d.plan_name)}</b>
      <small>${esc(t("drills_every")[d.every] || d.every)} · ${esc(t("drills_window"))}
        <time class="nowrap">${esc(d.window_start)} – ${esc(d.window_end)}</time></small>
      <small>${d.last ? `${esc(t("drills_last"))} <time>${esc(atSite(d.last, true))}</time>` : esc(t("drills_never"))}</small></div>
    <span class="badge ${esc(d.status)}">${esc(t("round_status")[d.status] || d.status)}</span>
    ${isAdmin ? `<button type="button" class="pick" data-plan="${esc(d.plan)}">${esc(t("drills_start"))}</button>` : ""}
  </li>`).join("")}</ul>`;
}

function drillHTML(d, roster) {
  const f = d.figures, where = d.device_name || d.building_name || d.device || d.building || "";
  const started = `${d.started.slice(0, 10)} ${wall(d.started).label}`;
  const figs = f ? `<dl class="figures">
      <div><dt>${esc(t("drills_fig").first_notice)}</dt><dd>${mmss(f.first_notice_s)}</dd></div>
      <div><dt>${esc(t("drills_fig").ack)}</dt><dd>${mmss(f.ack_s)}</dd></div>
      <div><dt>${esc(t("drills_fig").resolved)}</dt><dd>${mmss(f.resolved_s)}</dd></div>
      <div class="${f.skipped ? "bad" : ""}"><dt>${esc(t("drills_fig").skipped)}</dt>
        <dd>${esc(t("drills_steps_n").replace("{n}", f.skipped))}</dd></div>
      <div class="${f.late ? "bad" : ""}"><dt>${esc(t("drills_fig").late)}</dt>
        <dd>${esc(t("drills_steps_n").replace("{n}", f.late))}</dd></div></dl>` : "";
  const chain = d.chain ? `<div class="chain ${d.chain.ok ? "ok" : "bad"}">${esc(t("drills_chain"))}:
      <b>${esc(d.chain.ok ? t("drills_chain_ok") : t("drills_chain_fail"))}</b> · ${esc(d.chain.said)}</div>` : "";
  return `<li class="drill-row ${esc(d.status)}" data-drill="${d.id}">
    <div class="drill-head">${drillBadge()} <b>${esc(d.plan_name)}</b>
      <span class="badge ${d.status === "running" ? "due" : "done"}">${esc(t("drills_status")[d.status])}</span>
      <small class="muted">#${d.id}</small></div>
    <div>${esc(where)}${d.device_name && d.building_name ? ` · ${esc(d.building_name)}` : ""}</div>
    <div class="muted">${esc(t("drills_started_by").replace("{who}", personName(roster, d.started_by))
      .replace("{at}", started))}</div>
    ${figs}${chain}
    <div class="drill-links">${d.alert_id ? `<a class="button" href="#plan/${d.alert_id}">${esc(t("plan_open"))}</a>
      <button type="button" class="record" data-id="${d.id}">${esc(t("drills_record"))}</button>` : ""}
      <span class="dl-status muted" role="status"></span></div>
  </li>`;
}

function startHTML(p, c) {  // start the plan by hand: for an electrician or an admin
  return `<form class="plan-start stack" data-plan="${esc(p.id)}">
    <h4>${esc(t("plan_start"))}</h4><p class="muted">${esc(t("plan_start_help"))}</p>
    <label>${esc(t("drills_building"))} <select name="building" required><option value="">—</option>${c.buildings.map((b) =>
      `<option value="${esc(b.id)}">${esc(b.name)}</option>`).join("")}</select></label>
    <label>${esc(t("plan_start_note"))} <input name="note" maxlength="500"></label>
    <div class="form-actions"><button type="submit" class="primary">${esc(t("plan_start"))}</button></div>
    <p class="error" role="alert"></p>
  </form>`;
}

function planHTML(p, ruleName, open, c) {
  const raised = [...p.rules.map((r) => ruleName[r] || r), ...p.categories.map((x) => t("category")[x] || x)];
  return `<details class="plan" data-plan="${esc(p.id)}"${open ? " open" : ""}>
    <summary><b>${esc(p.name)}</b> <small class="muted">${esc(t("plans_drill_every"))}:
      ${esc(t("drills_every")[p.drill] || p.drill)}</small></summary>
    <p class="muted">${esc(t("plans_activates"))}: ${raised.length ? raised.map(esc).join("、") : esc(t("plans_by_hand"))}
      ${p.severities.length ? ` (${p.severities.map((s) => esc(t("severity")[s] || s)).join("、")})` : ""}</p>
    <ol class="plan-steps">${p.steps.map((s) => `<li class="plan-step" data-step="${s.n}">
      <div class="step-text">${esc(s.text)}</div>
      <div class="step-meta"><span class="role">${esc(s.role_name)}</span>
        <span class="due">${esc(s.within_min === null ? t("plan_no_limit")
          : t("plan_within").replace("{n}", String(Math.round(s.within_min))))}</span></div></li>`).join("")}</ol>
    <div class="grid plan-info">
      <div><h4>${esc(t("plan_places"))}</h4>${placesHTML(p.places)}</div>
      <div><h4>${esc(t("plan_contacts"))}</h4>${contactsHTML(p.contacts)}</div>
    </div>
    ${c ? startHTML(p, c) : ""}
  </details>`;
}

function formHTML(plans, c) {
  return `<form id="drill-form" class="stack">
    <label>${esc(t("drills_plan"))} <select name="plan" required>${plans.map((p) =>
      `<option value="${esc(p.id)}">${esc(p.name)}</option>`).join("")}</select></label>
    <label>${esc(t("drills_building"))} <select name="building" required><option value="">—</option>${c.buildings.map((b) =>
      `<option value="${esc(b.id)}">${esc(b.name)}${b.zone_name ? " · " + esc(b.zone_name) : ""}</option>`).join("")}
      </select></label>
    <label>${esc(t("drills_device"))} <select name="device"><option value="">${esc(t("drills_whole_building"))}</option>
      </select></label>
    <label class="check"><input type="checkbox" name="chain" disabled> ${esc(t("drills_chain_box"))}</label>
    <div class="form-actions"><button type="submit" class="primary">${esc(t("drills_submit"))}</button></div>
    <p class="error" id="drill-error" role="alert"></p><p class="ok" id="drill-started" role="status"></p>
  </form>`;
}

async function startForm() {
  const form = $("#drill-form");
  if (!form) return;
  const devs = await devices();
  document.querySelectorAll("button.pick").forEach((b) => b.addEventListener("click", () => {
    form.plan.value = b.dataset.plan;
    $("#drill-start").scrollIntoView({ block: "start" });
    form.building.focus();
  }));
  form.building.addEventListener("change", () => {
    const here = devs.filter((d) => d.building === form.building.value);
    form.device.innerHTML = `<option value="">${esc(t("drills_whole_building"))}</option>` + here.map((d) =>
      `<option value="${esc(d.id)}">${esc(d.name || d.id)}</option>`).join("");
    form.chain.checked = false;
    form.chain.disabled = true;
  });
  form.device.addEventListener("change", () => {
    form.chain.disabled = !form.device.value;
    if (!form.device.value) form.chain.checked = false;
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    $("#drill-error").textContent = "";
    if (!form.building.value) { $("#drill-error").textContent = t("drills_need_building"); return; }
    const body = { plan: form.plan.value, chain: form.chain.checked };
    if (form.device.value) body.device = form.device.value; else body.building = form.building.value;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const d = await (await api("/drills", { method: "POST", body: JSON.stringify(body) })).json();
      document.body.dataset.saved = String(d.id);
      await state.rerender();
      $("#drill-started").innerHTML = `${esc(t("drills_started").replace("{id}", d.id))} · ` +
        `<a href="#plan/${esc(d.alert_id)}">${esc(t("plan_open"))}</a>`;
    } catch (err) {
      button.disabled = false;
      $("#drill-error").textContent = err.message;
    }
  });
}
