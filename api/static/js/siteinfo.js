// What the records views share: the site's clock (dates shown and taken in the site's time zone, never the
// browser's), the names of the people on its duty roster, its school terms, and a file download that carries
// the token.
import { api, getJSON, siteClock, siteZone, state } from "./core.js";

const pad = (n) => String(n).padStart(2, "0");

/** An instant as the site reads it: 2026-07-20 23:30 (dateOnly: 2026-07-20). */
export function atSite(iso, dateOnly = false) {
  if (!iso) return "—";
  const c = siteClock(new Date(iso));
  return dateOnly ? c.date : `${c.date} ${pad(c.hour)}:${pad(c.minute)}`;
}

/** Now on the site's clock, as a datetime-local input holds it (2026-07-20T23:30). */
export function siteNowLocal() {
  const c = siteClock();
  return `${c.date}T${pad(c.hour)}:${pad(c.minute)}`;
}

/** The site's today (YYYY-MM-DD). */
export const siteToday = () => siteClock().date;

/** A datetime-local value read as the site's wall clock, with the site's UTC offset at that moment, as the API
 * takes it: 2026-07-20T23:30 → 2026-07-20T23:30:00+08:00. */
export function withSiteOffset(local) {
  const [d, hm] = local.split("T"), [y, mo, da] = d.split("-").map(Number), [h, mi] = hm.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, da, h, mi);
  let offset = offsetAt(new Date(wall), siteZone());
  offset = offsetAt(new Date(wall - offset * 60000), siteZone());  // the offset in force at that wall time
  const sign = offset >= 0 ? "+" : "-", a = Math.abs(offset);
  return `${d}T${pad(h)}:${pad(mi)}:00${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

function offsetAt(date, tz) {  // minutes east of UTC
  const name = new Intl.DateTimeFormat("en-US", { timeZone: tz, timeZoneName: "longOffset" })
    .formatToParts(date).find((p) => p.type === "timeZoneName").value;  // GMT+08:00, or GMT
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

// -- people and terms --------------------------------------------------------------------------
const cache = { site: null, people: null, terms: null };
function fresh() {
  if (cache.site !== state.site) Object.assign(cache, { site: state.site, people: null, terms: null });
}

/** The site's duty roster: [{id, name}]. */
export async function people() {
  fresh();
  cache.people ??= await getJSON("/people");
  return cache.people;
}

/** What a person reads for who did something: the roster's name for a token's name, else the name as it is. */
export function personName(roster, who) {
  return roster.find((p) => p.id === who)?.name || who || "—";
}

export async function terms() {
  fresh();
  cache.terms ??= await getJSON("/terms");
  return cache.terms;
}

// -- files ---------------------------------------------------------------------------------
/** Fetches ``path`` with the token and saves it under the name the server gives (else ``fallback``). */
export async function saveFile(path, fallback) {
  const resp = await api(path);
  const cd = resp.headers.get("Content-Disposition") || "";
  const m = /filename\*=UTF-8''([^;]+)/.exec(cd);
  const name = m ? decodeURIComponent(m[1]) : fallback;
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return name;
}

/** A kept photo or PDF (GET /files/{sha256} needs the token): an object URL for an <img> or a link. */
export async function fileURL(sha256) {
  const resp = await api(`/files/${encodeURIComponent(sha256)}`);
  return URL.createObjectURL(await resp.blob());
}
