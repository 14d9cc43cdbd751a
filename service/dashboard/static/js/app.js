// The dashboard's shell: sign in and out, the router (#/queue, #/comment/ID, #/audit,
// #/stats), the help overlay and the keys that work everywhere.

import { ApiError, call, onUnauthorized, query, setToken, token } from "./api.js";
import { $, announce, clear, h } from "./dom.js";
import * as queue from "./queue.js";

const VIEWS = { queue };
const session = { role: null };
let current = null;
let pendingG = false;

// Optional views: loaded when their module exists, so a missing one degrades to a message.
const KNOWN = new Set(["queue", "history", "audit", "stats"]);

async function loadView(name) {
  if (!KNOWN.has(name)) name = "queue";
  if (VIEWS[name]) return VIEWS[name];
  try {
    VIEWS[name] = await import(`./${name}.js`);
  } catch (error) {
    VIEWS[name] = { mount(root) { root.append(h("p", { class: "empty" }, "Not available.")); } };
  }
  return VIEWS[name];
}

// What the token may do, asked of the API itself: the queue answers moderators and admins,
// statistics answer auditors too, and webhooks answer admins only (asked alongside, since
// it changes nothing but the label).
async function whoAmI() {
  const admin = call("/v1/webhooks/endpoints", { probe: true }).then(() => true, () => false);
  try {
    const { data } = await call(`/v1/queue${query(queue.FIRST_PAGE)}`, { probe: true });
    queue.offerFirstPage(data);
  } catch (error) {
    if (error.status !== 403) throw error;
    await call("/v1/stats", { probe: true });
    return "auditor";
  }
  return (await admin) ? "admin" : "moderator";
}

function showSignIn(message = "") {
  if (current && current.unmount) current.unmount();
  current = null;
  session.role = null;
  $("#top").hidden = true;
  clear($("#view"));
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
  $("#token").value = "";
  $("#token").focus();
  document.title = "Sign in · Moderation dashboard";
}

async function signIn(value) {
  setToken(value);
  queue.prefetch();
  try {
    session.role = await whoAmI();
  } catch (error) {
    setToken(null);
    showSignIn(error.status === 401 ? "That token is unknown or has been revoked."
      : `Could not sign in: ${error.message}`);
    return;
  }
  // the hidden form keeps the focus until the next frame: hand it to the page now, so
  // the first card can take it as soon as it is drawn
  if ($("#signin").contains(document.activeElement)) $("#main").focus({ preventScroll: true });
  $("#signin").hidden = true;
  $("#top").hidden = false;
  $("#who").textContent = `Signed in as ${session.role}`;
  document.body.dataset.role = session.role;
  if (!location.hash || location.hash === "#" || location.hash === "#/") {
    history.replaceState(null, "", session.role === "auditor" ? "#/audit" : "#/queue");
  }
  route();
}

function signOut() {
  setToken(null);
  document.body.dataset.role = "";
  history.replaceState(null, "", location.pathname);
  showSignIn();
  announce("Signed out.");
}

async function route() {
  if (!session.role) return;
  const [name = "queue", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const viewName = name === "comment" ? "history" : name;
  if (current && current.unmount) current.unmount();
  const view = await loadView(viewName);
  current = view;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === viewName) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // each visit gets its own container: a slow earlier view writes into a detached one
  const root = h("div", { class: `view view-${viewName}` });
  clear($("#view")).append(root);
  $("#view").dataset.view = viewName;
  try {
    await view.mount(root, { role: session.role, args: rest.map(decodeURIComponent) });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) {
      root.append(h("p", { class: "error", role: "alert" }, `Could not load: ${error.message}`));
    }
  }
}

function helpOpen() { return !$("#help").hidden; }

function toggleHelp(open = !helpOpen()) {
  const overlay = $("#help");
  if (open) {
    overlay.dataset.returnFocus = document.activeElement && document.activeElement.id || "";
    overlay.hidden = false;
    $("#help .dialog").focus();
  } else {
    overlay.hidden = true;
    if (current && current.refocus) current.refocus();
  }
}

function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.tagName === "INPUT") return !["checkbox", "radio", "button", "submit", "range"].includes(target.type);
  return target.isContentEditable || ["TEXTAREA", "SELECT"].includes(target.tagName);
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (!session.role) return;
  if (helpOpen()) {
    if (event.key === "Escape" || event.key === "?") { event.preventDefault(); toggleHelp(false); }
    return;
  }
  if (!typing(event.target)) {
    if (event.key === "?") { event.preventDefault(); toggleHelp(true); return; }
    if (pendingG) {
      pendingG = false;
      const target = { q: "#/queue", a: "#/audit", s: "#/stats" }[event.key];
      if (target) { event.preventDefault(); location.hash = target; return; }
    } else if (event.key === "g") {
      pendingG = true;
      setTimeout(() => { pendingG = false; }, 1500);
      return;
    }
  }
  if (current && current.onKey) current.onKey(event, typing(event.target));
}

function start() {
  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("#token").value.trim();
    performance.mark("signin-submitted");
    if (value) signIn(value);
  });
  $("#signout").addEventListener("click", signOut);
  $("#help-button").addEventListener("click", () => toggleHelp(true));
  $("#help-close").addEventListener("click", () => toggleHelp(false));
  $("#help").addEventListener("click", (event) => {
    if (event.target === $("#help")) toggleHelp(false);
  });
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", route);
  onUnauthorized(() => { setToken(null); showSignIn("Your session has ended: sign in again."); });
  if (token()) signIn(token());
  else showSignIn();
}

start();
