// Why a meter is silent, as its gateway last said: the reason in words (the API words it in the console's
// language), when it last answered (the site's clock) and its success rate over the last 24 hours of polls.
import { esc, t } from "./core.js";
import { atSite } from "./siteinfo.js";

const percent = (r) => (r === null || r === undefined ? "—" : `${Math.round(r * 100)}%`);

/** One line for a device's health, or "" when its gateway has said nothing. ``where``: the gateway and bus too. */
export function healthLine(h, where = false) {
  if (!h) return "";
  // each fact kept whole on a phone: a line breaks between them, never inside a date
  // and a "·" stays at the end of the line it closes (a no-break space before it), never begins the next
  const part = (text) => `<span class="health-part">${text}</span>`, dot = "\u00a0· ";
  return `<span class="health ${h.ok ? "health-ok" : "health-bad"}" data-code="${esc(h.code || "ok")}">` +
    `<b>${esc(h.reason)}</b>${dot}` +
    part(`${t("last_answer")} ${h.last_answer ? atSite(h.last_answer) : t("never")}`) + dot +
    part(`${t("success_rate")} ${percent(h.success_rate)}`) +
    (where ? dot + part(`${t("polled_by")} ${esc(h.gateway_name)} · ${esc(h.bus)}`) : "") + "</span>";
}
