// The water board on the overview: each role (purified water at the direct-drinking fountains, tap water, canteen
// water, the secondary-supply tank, hot-water storage, water-heater outlets) under its own heading with the standard its limits come from, each sensor green,
// amber (near a limit), red (out) or grey (quiet), its values beside the limits they are held to.
import { $, esc, fmt, getJSON, t, withLang } from "./core.js";

const ROLE_ORDER = ["purified_drinking", "drinking", "canteen_water", "secondary_supply", "water_heater_storage", "water_heater_outlet"];
const DECIMALS = { ph: 2, turbidity_ntu: 2, free_chlorine_mgl: 2, tds_mgl: 0, conductivity_uscm: 0, temperature_c: 1 };

function limitText(limits) {  // "6.5–8.5", "≤ 1", "≥ 60": what a value is held to
  return limits.map((l) => (l.low !== null && l.high !== null ? `${l.low}–${l.high}`
    : l.low !== null ? `≥\u00a0${l.low}` : `≤\u00a0${l.high}`)).join(", ");
}

function tile(s) {
  const values = s.values.filter((v) => v.limits.length).map((v) =>
    `<span class="${v.standing || ""}" title="${esc(limitText(v.limits))}">${esc(v.name)} ` +
    `${fmt(v.value, DECIMALS[v.field] ?? 2)}${v.unit ? " " + esc(v.unit) : ""} ` +
    `<small>(${esc(limitText(v.limits))})</small></span>`).join("");
  return `<a class="tile ${s.standing}" href="#device/${esc(s.device)}" data-device="${esc(s.device)}"` +
    ` data-standing="${s.standing}" title="${esc(s.device)}"><b>${esc(s.name)}</b>` +
    `<small>${esc(s.building_name)}</small><span class="state">${t("standing")[s.standing]}</span>` +
    `<span class="vals">${values}</span></a>`;
}

export async function waterBoard() {
  const board = await getJSON(withLang("/water-quality"));
  const rank = (role) => { const i = ROLE_ORDER.indexOf(role); return i < 0 ? ROLE_ORDER.length : i; };
  const roles = [...new Set(board.map((s) => s.role))].sort((a, b) => rank(a) - rank(b));
  $("#water-board").innerHTML = roles.map((role) => {
    const sensors = board.filter((s) => s.role === role).sort((a, b) => a.name.localeCompare(b.name, "zh-CN"));
    const first = sensors[0];
    return `<section class="board-role" data-role="${esc(role || "")}"><h4>${esc(first.role_name || t("none"))}` +
      `${first.standard ? ` <small>${esc(first.standard)}</small>` : ""}</h4>` +
      `<div class="tiles">${sensors.map(tile).join("")}</div></section>`;
  }).join("") || `<p class="muted">${t("none")}</p>`;
}
