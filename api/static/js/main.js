// The console's frame: log in with a token, switch language, route #view/arg to a view, mark the page ready.
import { showAlerts } from "./alerts.js";
import { showBuilding } from "./building.js";
import { showCosts } from "./costs.js";
import { $, Unauthorised, disposeCharts, getJSON, state, t, token } from "./core.js";
import { showDevice } from "./device.js";
import { showDrills } from "./drills.js";
import { showFlow } from "./flow.js";
import { showHazards } from "./hazards.js";
import { showOverview } from "./overview.js";
import { showPlan } from "./plan.js";
import { showReading } from "./reading.js";
import { showReport } from "./report.js";
import { showRounds } from "./rounds.js";
import { showSweep } from "./sweep.js";
import { showWaterTests } from "./watertests.js";

const VIEWS = { overview: showOverview, alerts: showAlerts, building: showBuilding, device: showDevice,
  reports: showReport, rounds: showRounds, reading: showReading, sweep: showSweep, hazards: showHazards,
  watertests: showWaterTests, costs: showCosts, flow: showFlow, drills: showDrills, plan: showPlan };
// a view with no menu entry of its own lights its parent's (a plan's checklist is an alert's)
const TAB = { plan: "alerts" };

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  document.title = "meterwatch · " + t("title");
  $("#who").textContent = state.me ? `${state.me.person || state.me.name} · ${t("role")[state.me.role]}` : "";
}

/** The sites this token sees: a picker in the header when there are several; the choice is remembered. */
async function chooseSite() {
  state.sites = await getJSON("/sites");
  const ids = state.sites.map((s) => s.id);
  if (!ids.includes(state.site)) state.site = ids[0] || null;
  const picker = $("#site");
  picker.hidden = ids.length < 2;
  picker.replaceChildren(...state.sites.map((s) => new Option(s.name, s.id)));  // names as text, never markup
  picker.value = state.site || "";
}

function showLogin(message = "") {
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== "login"; });
  $("#login-error").textContent = message;
  delete document.body.dataset.ready;
}

/** On a phone the navigation is one row that scrolls sideways: keep the current view's link in sight. */
function showActiveTab() {
  const nav = $("header nav"), a = $("header nav a.active");
  if (!a || nav.scrollWidth <= nav.clientWidth) return navEdges();
  const left = a.getBoundingClientRect().left - nav.getBoundingClientRect().left + nav.scrollLeft;
  nav.scrollLeft = left - (nav.clientWidth - a.offsetWidth) / 2;
  navEdges();
}
/** Fade the navigation's edge on the side where more links are (console.css), so a person sees it scrolls. */
function navEdges() {
  const nav = $("header nav");
  nav.classList.toggle("more-left", nav.scrollLeft > 1);
  nav.classList.toggle("more-right", nav.scrollLeft + nav.clientWidth < nav.scrollWidth - 1);
}

let routing = 0;  // only the newest navigation marks the page ready (an older, slower one may finish later)
async function route() {
  const mine = ++routing;
  const hash = location.hash.slice(1);
  if (hash.startsWith("token=")) {
    localStorage.setItem("mw-token", decodeURIComponent(hash.slice(6)));
    history.replaceState(null, "", "/#overview");
  }
  if (!token()) return showLogin();
  delete document.body.dataset.ready;  // ready (the view) and shown (the whole address): set once it is drawn
  delete document.body.dataset.shown;
  try {
    if (!state.me) { state.me = await getJSON("/me"); await chooseSite(); applyLanguage(); }
    const [page, arg] = (location.hash.slice(1) || "overview").split("/");
    const name = page in VIEWS ? page : "overview";
    document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== "view"; });
    document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active",
      a.dataset.view === (TAB[name] || name)));
    showActiveTab();
    const section = $("#view");
    disposeCharts();
    section.dataset.view = name;
    await VIEWS[name](section, arg && decodeURIComponent(arg));
    if (mine === routing) {
      document.body.dataset.ready = name;
      document.body.dataset.shown = location.hash.slice(1);
    }
  } catch (err) {
    if (err instanceof Unauthorised) { state.me = null; return showLogin(err.message); }
    if (mine === routing) {  // the API's message as text: it may quote what a person typed
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = `${t("error")}: ${err.message}`;
      $("#view").prepend(p);
    }
    throw err;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  state.rerender = route;
  applyLanguage();
  $("#lang").addEventListener("click", () => {
    state.lang = state.lang === "zh-CN" ? "en" : "zh-CN";
    localStorage.setItem("mw-lang", state.lang);
    applyLanguage();
    route();
  });
  $("#site").addEventListener("change", (e) => {
    state.site = e.target.value;
    localStorage.setItem("mw-site", state.site);
    state.campus = null;
    state.devices = null;
    route();
  });
  $("#logout").addEventListener("click", () => { localStorage.removeItem("mw-token"); state.me = null; showLogin(); });
  $("#login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem("mw-token", $("#token").value.trim());
    state.me = null;
    location.hash = "#overview";
    route();
  });
  window.addEventListener("hashchange", route);
  $("header nav").addEventListener("scroll", navEdges, { passive: true });
  window.addEventListener("resize", navEdges);
  route();
});
