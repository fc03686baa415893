// The sweep: every meter's use in the last hour against what it should draw (its standby while its building is
// closed, else the same hour on the same kind of day in recent weeks), electricity, water and gas alike, the
// largest excess first; an electrician saves it as a check round.
import { $, api, esc, fmt, getJSON, state, t, when } from "./core.js";

const SHOWN = 40;  // the flagged, then the largest excesses
const rate = (v, unit) => (v === null || v === undefined ? "—" : `${fmt(v, 2)} ${esc(unit)}`);

export async function showSweep(section) {
  const s = await getJSON("/sweep");
  const names = Object.fromEntries(s.buildings.map((b) => [b.id, b.name]));
  const flagged = s.lines.filter((x) => x.flagged);
  const rest = s.lines.filter((x) => !x.flagged && x.now !== null && (x.now > 0 || x.expected > 0))
    .sort((a, b) => b.excess - a.excess);  // a meter at rest where nothing is expected says nothing
  const shown = [...flagged, ...rest.slice(0, Math.max(0, SHOWN - flagged.length))];
  section.innerHTML = `
    <h2>${t("sweep_heading")}</h2>
    <p class="muted">${t("sweep_help")} ${when(s.at)} · ${t("sweep_day")[s.day_kind]}</p>
    ${s.quiet ? `<p class="notice">${t("sweep_quiet")}</p>` : ""}
    <article class="card"><h3>${flagged.length ? t("sweep_flagged").replace("{n}", flagged.length) : t("sweep_none")}</h3>
      <div class="sweep-wrap"><table class="sweep"><thead><tr><th>${t("building_col")}</th><th>${t("device_col")}</th>
        <th>${t("sweep_kind")}</th><th class="num">${t("sweep_now")}</th><th class="num wide-only">${t("sweep_expected")}</th>
        <th class="num">${t("sweep_excess")}</th></tr></thead><tbody>
      ${shown.map((x) => `<tr class="${x.flagged ? "flagged" : ""}" data-device="${esc(x.device)}" data-kind="${esc(x.kind)}">
        <td>${esc(names[x.building] || x.building)}${x.closed ? ` <small class="muted">${t("sweep_closed")}</small>` : ""}</td>
        <td>${esc(x.name)}</td><td>${t("kind")[x.kind]}</td>
        <td class="num">${rate(x.now, x.unit)}</td><td class="num wide-only">${rate(x.expected, x.unit)}</td>
        <td class="num">${x.expected === null ? "—" : rate(Math.max(0, x.excess), x.unit)}</td>
      </tr>`).join("")}</tbody></table></div>
      ${state.me.role !== "viewer" ? `<button type="button" id="sweep-save">${t("sweep_save")}</button>` : ""}
      <p class="ok" id="sweep-saved"></p><p class="error" id="sweep-error"></p>
    </article>`;
  $("#sweep-save")?.addEventListener("click", async () => {
    try {
      const rounds = await (await api("/sweep", { method: "POST" })).json();
      $("#sweep-saved").textContent = t("sweep_saved").replace("{ids}", rounds.map((r) => "#" + r.id).join(", "));
      document.body.dataset.saved = rounds.map((r) => r.id).join(",");
    } catch (err) {
      $("#sweep-error").textContent = err.message;
    }
  });
}
