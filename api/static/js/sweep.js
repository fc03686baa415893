// The sweep: every building's use in the last hour against the same hour on the same kind of day, the meters still
// drawing power, water or gas flagged; an electrician saves it as a check round.
import { $, api, esc, fmt, getJSON, state, t, when } from "./core.js";

export async function showSweep(section) {
  const s = await getJSON("/sweep");
  const names = Object.fromEntries(s.buildings.map((b) => [b.id, b.name]));
  const flagged = s.lines.filter((x) => x.flagged);
  const shown = [...flagged, ...s.lines.filter((x) => !x.flagged && x.now !== null && x.kind === "electricity")
    .slice(0, 30)];
  section.innerHTML = `
    <h2>${t("sweep_heading")}</h2>
    <p class="muted">${t("sweep_help")} ${when(s.at)} · ${t("sweep_day")[s.day_kind]}</p>
    ${s.quiet ? `<p class="notice">${t("sweep_quiet")}</p>` : ""}
    <article class="card"><h3>${flagged.length ? t("sweep_flagged").replace("{n}", flagged.length) : t("sweep_none")}</h3>
      <table class="sweep"><thead><tr><th>${t("building_col")}</th><th>${t("device_col")}</th><th></th>
        <th class="num">${t("sweep_now")}</th><th class="num">${t("sweep_usual")}</th></tr></thead><tbody>
      ${shown.map((x) => `<tr class="${x.flagged ? "flagged" : ""}" data-device="${esc(x.device)}">
        <td>${esc(names[x.building] || x.building)}</td><td>${esc(x.name)}</td><td>${t("kind")[x.kind]}</td>
        <td class="num">${fmt(x.now, 2)} ${esc(x.unit)}</td><td class="num">${fmt(x.usual, 2)} ${esc(x.unit)}</td>
      </tr>`).join("")}</tbody></table>
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
