// The queue: pending comments as cards, decided with the keyboard or the mouse.
// Every decision carries the version the card was shown at (If-Match); a 409 names who
// decided first and refreshes the card.

import { ApiError, call, query } from "./api.js";
import { announce, clear, h } from "./dom.js";
import { authorLine, commentText, flagChips, metaLine, standingLine } from "./card.js";
import { ago, humanCode, utc } from "./format.js";
import { detectLang, LANGUAGES } from "./lang.js";
import { follow } from "./live.js";

const LIVE_TYPES = ["comment.submitted", "comment.screened", "comment.approved",
  "comment.rejected", "comment.reported", "comment.reports_dismissed", "author.erased"];
const QUEUES = { pending: "Pending", reported: "Reported", approved: "Approved",
  rejected: "Rejected" };
// the queues the API counts; approved and rejected comments are searched (newest first)
const COUNTED = ["pending", "reported"];
const DECIDED = new Set(["approved", "rejected"]);
const GONE_AFTER_MS = 4000;

const PAGE = 50;  // FIRST_PAGE's limit
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/;
let state = null;

export async function guidelines() {
  if (!guidelines.cache) {
    guidelines.cache = call("/v1/guidelines", { auth: false }).then(({ data }) => ({
      version: data.version,
      list: data.guidelines,
      byCode: new Map(data.guidelines.map((g) => [g.code, g])),
    }));
  }
  return guidelines.cache;
}

function freshState(root, role) {
  return {
    root, role, items: [], selected: 0, total: 0, nextCursor: null, loading: false,
    queue: "pending",  // or "reported": published comments with open reader reports
    counts: { pending: null, reported: null },  // what each tab shows
    countTimer: null,
    filters: { sort: "oldest", article_id: "", flag: "", lang: "", text: "", unclaimed: false },
    panel: null,      // {id, mode: "reject"|"note", reasons: Set}
    notes: new Map(), // comment id -> note text typed so far
    flagsSeen: new Set(),
    parents: new Map(),
    catalogue: null,
    fresh: new Set(),  // ids submitted since the page loaded, not shown yet
    mine: new Set(),   // ids this tab decided (or is deciding): their events are ours
    stream: null,
  };
}

// The shell finds out what the token may do by asking for the first queue page itself
// (FIRST_PAGE) and hands the answer over, with the guidelines asked meanwhile: the first
// page costs one round trip after sign-in. The page says the log position it shows, where
// the live stream starts, so nothing that happens after it is missed.
export const FIRST_PAGE = { sort: "oldest", limit: 50 };
let offered = null;

export function prefetch() {
  guidelines();
}

export function offerFirstPage(data) {
  offered = { data, at: Date.now() };
}

function readHead() {
  return call("/readyz", { auth: false }).then(({ data }) => data.log_head, () => null);
}

export async function mount(root, { role }) {
  state = freshState(root, role);
  document.title = "Queue · Moderation dashboard";
  if (role === "auditor") {
    root.append(h("h1", {}, "Queue"),
      h("p", { class: "empty" }, "Auditors read decisions, not the queue: see Audit and Statistics."));
    return;
  }
  // the log position before the first page: the stream starts there, so nothing that
  // happens while the page loads is missed (what it repeats is recognised by id)
  const first = offered && Date.now() - offered.at < 10000
    && Number.isInteger(offered.data.position) ? offered.data : null;
  offered = null;
  const [catalogue, head] = await Promise.all([guidelines(),
    first ? first.position : readHead()]);
  if (!state || state.root !== root) return;
  state.catalogue = catalogue;
  root.append(toolbar(), h("p", { class: "summary", id: "queue-summary", "aria-live": "polite" }),
    h("button", { type: "button", class: "banner", id: "new-banner", hidden: true,
      onclick: () => showFresh() }),
    h("div", { class: "cards", id: "cards", role: "list", "aria-label": "Pending comments" }),
    h("p", { class: "more" }, h("button", { type: "button", id: "more", hidden: true,
      onclick: () => load(true) }, "Load more")));
  await load(false, false, first);
  refreshCounts();
  if (state && state.root === root && head !== null) {
    state.stream = follow({ after: head, types: LIVE_TYPES, onEvent, onClaim,
      onState: liveState });
  }
}

export function unmount() {
  if (state && state.stream) state.stream.close();
  if (state) clearTimeout(state.countTimer);
  state = null;
}

function liveState(value) {
  const badge = document.getElementById("live");
  if (!badge) return;
  badge.hidden = value === "off" || value === "unavailable";
  badge.dataset.state = value;
  document.getElementById("live-text").textContent =
    { on: "live", retry: "reconnecting…" }[value] || "offline";
}

function onEvent(event) {
  if (!state) return;
  const data = event.data || {};
  if (event.type === "author.erased") {  // what the page shows of that author goes too
    for (const item of state.items) {
      if (item.author_id === data.author_id || (data.comment_ids || []).includes(item.id)) {
        Object.assign(item, { body: null, author_name: null, author_email: null });
        state.notes.delete(item.id);
        replaceCard(item);
      }
    }
    for (const [key, parent] of state.parents) {
      if (parent && parent.author_id === data.author_id) state.parents.set(key, { ...parent,
        body: null, author_name: null });
    }
    return;
  }
  const id = data.comment_id;
  if (!id || state.mine.has(id)) return;
  const item = state.items.find((x) => x.id === id);
  if (state.queue === "reported") { onReportedEvent(event, item); return; }
  if (DECIDED.has(state.queue)) { onDecidedEvent(event, item); return; }
  if (event.type === "comment.reported" || event.type === "comment.reports_dismissed") {
    scheduleCounts();
    return;
  }
  const filtered = state.filters.article_id || state.filters.flag;
  if (event.type === "comment.submitted") {
    if (item || state.fresh.has(id)) return;
    if (state.filters.article_id && data.article_id !== state.filters.article_id) return;
    state.fresh.add(id);
    if (!filtered) state.total += 1;
    updateBanner();
    updateSummary();
  } else if (event.type === "comment.screened") {
    if (!item || item.gone) return;
    Object.assign(item, { flags: data.flags || [], risk: data.risk, version: event.version });
    if (!(state.panel && state.panel.id === id)) replaceCard(item);
  } else if (event.type === "comment.approved" || event.type === "comment.rejected") {
    if (state.fresh.delete(id)) updateBanner();
    if (data.previous_status === "pending" && !filtered && !item) {
      state.total = Math.max(0, state.total - 1);
    }
    if (item && !item.gone) {
      const who = data.moderator_id || (event.metadata && event.metadata.actor
        && event.metadata.actor.id) || "someone";
      const what = event.type === "comment.approved" ? "approved" : "rejected";
      item.gone = `Decided elsewhere: ${who} ${what} this ${ago(data.decided_at || event.recorded_at)}.`;
      state.total = Math.max(0, state.total - 1);
      if (state.panel && state.panel.id === id) state.panel = null;
      replaceCard(item);
      announce(`${who} ${what} the comment by ${item.author_name ?? "an author"}.`);
      setTimeout(() => dropGone(item), GONE_AFTER_MS);
    }
    updateSummary();
    if (event.type === "comment.rejected") scheduleCounts();
  }
}

// Another moderator took, released or ran out of a claim: the card says so at once. Our
// own claim comes back too, recognised by the claim this tab holds on that comment.
function onClaim(change) {
  if (!state) return;
  const item = state.items.find((x) => x.id === change.comment_id);
  if (!item || item.gone) return;
  const ours = item.claim && item.claim.mine;
  if (change.state === "claimed") {
    if (ours && (item.claim.pending || item.claim.moderator_id === change.moderator_id)) {
      return;  // ours (the answer to our own request sets it)
    }
    if (item.claim && !item.claim.mine && item.claim.moderator_id === change.moderator_id
        && item.claim.expires_at === change.expires_at) return;
    item.claim = { moderator_id: change.moderator_id, claimed_at: change.claimed_at,
      expires_at: change.expires_at, mine: false };
    if (selectedItem() === item) {
      announce(`${change.moderator_id} is handling this comment until ${utc(change.expires_at)}.`);
    } else if (state.filters.unclaimed && state.queue === "pending") {
      const chosen = selectedItem();  // "Hide others' claims": it leaves
      state.items = state.items.filter((x) => x !== item);
      restoreSelection(chosen);
      render();
      return;
    }
  } else {
    if (!item.claim || ours || item.claim.moderator_id !== change.moderator_id) return;
    item.claim = null;
    if (selectedItem() === item) {
      announce(change.state === "expired" ? `${change.moderator_id}'s claim on this comment ran out.`
        : `${change.moderator_id} released this comment.`);
    }
  }
  if (!(state.panel && state.panel.id === item.id)) replaceCard(item);
  else {  // keep the open panel (and what is typed in it): update the claim line only
    const card = cardElement(item.id);
    const line = card && card.querySelector(".claim");
    const fresh = claimLine(item);
    if (line && fresh) line.replaceWith(fresh);
    else if (line) line.remove();
    else if (fresh && card) card.querySelector(".card-head").append(fresh);
  }
}

function claimLine(item) {
  return item.claim && !item.claim.mine ? h("p", { class: "claim" }, "Claimed by ",
    h("bdi", {}, item.claim.moderator_id), ` until ${utc(item.claim.expires_at)}`) : null;
}

// The Approved and Rejected tabs: a comment shown there that someone else decides again
// is marked and leaves; the other tabs' counts follow.
function onDecidedEvent(event, item) {
  if (event.type === "comment.submitted" || event.type === "comment.approved"
      || event.type === "comment.rejected" || event.type === "comment.reported"
      || event.type === "comment.reports_dismissed") scheduleCounts();
  if (!item || item.gone) return;
  if (event.type === "comment.reported" || event.type === "comment.reports_dismissed") {
    item.version = event.version ?? item.version;
    return;
  }
  if (event.type !== "comment.approved" && event.type !== "comment.rejected") return;
  const data = event.data || {};
  const who = data.moderator_id || (event.metadata && event.metadata.actor
    && event.metadata.actor.id) || "someone";
  const what = event.type === "comment.approved" ? "approved" : "rejected";
  item.gone = `Decided again elsewhere: ${who} ${what} this ${ago(data.decided_at || event.recorded_at)}.`;
  if (state.panel && state.panel.id === item.id) state.panel = null;
  replaceCard(item);
  announce(`${who} ${what} the comment by ${item.author_name ?? "an author"}.`);
  setTimeout(() => dropGone(item), GONE_AFTER_MS);
}

// The Reported tab: a new report updates its card (and version) or the tab's count; a
// dismissal or rejection by someone else marks the card, which then leaves.
function onReportedEvent(event, item) {
  const data = event.data || {};
  if (event.type === "comment.submitted") { scheduleCounts(); return; }
  if (event.type === "comment.reported") {
    if (item && !item.gone) {
      item.version = event.version ?? item.version;
      if (data.counted !== false) {
        item.open_reports = (item.open_reports || 0) + 1;
        item.total_reports = (item.total_reports || 0) + 1;
        item.reports = { ...(item.reports || {}) };
        item.reports[data.reason] = (item.reports[data.reason] || 0) + 1;
      }
      if (!(state.panel && state.panel.id === item.id)) replaceCard(item);
    } else {
      scheduleCounts();
    }
    return;
  }
  if (event.type === "comment.screened") {
    if (item && !item.gone) item.version = event.version ?? item.version;
    return;
  }
  if (event.type !== "comment.reports_dismissed" && event.type !== "comment.rejected") return;
  scheduleCounts();
  if (!item || item.gone) return;
  const who = data.moderator_id || (event.metadata && event.metadata.actor
    && event.metadata.actor.id) || "someone";
  const what = event.type === "comment.rejected" ? "rejected this" : "dismissed the reports";
  item.gone = `Resolved elsewhere: ${who} ${what} ${ago(data.dismissed_at || data.decided_at
    || event.recorded_at)}.`;
  state.total = Math.max(0, state.total - 1);
  if (state.panel && state.panel.id === item.id) state.panel = null;
  replaceCard(item);
  updateSummary();
  announce(`${who} ${what} on the comment by ${item.author_name ?? "an author"}.`);
  setTimeout(() => dropGone(item), GONE_AFTER_MS);
}

// The other tab's count, asked again a moment after the events that change it.
function scheduleCounts() {
  if (!state) return;
  clearTimeout(state.countTimer);
  state.countTimer = setTimeout(refreshCounts, 400);
}

async function refreshCounts() {
  if (!state) return;
  const mine = state;
  await Promise.all(COUNTED.filter((q) => q !== mine.queue).map((q) =>
    call(`/v1/queue${query({ state: q, limit: 1 })}`)
      .then(({ data }) => { mine.counts[q] = data.total; }, () => {})));
  if (state === mine) updateTabs();
}

function updateTabs() {
  state.counts[state.queue] = state.total;
  for (const [q, label] of Object.entries(QUEUES)) {
    const tab = state.root.querySelector(`#tab-${q}`);
    if (!tab) continue;
    const on = q === state.queue;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    const count = state.counts[q];
    const counted = count !== null && count !== undefined;
    tab.querySelector(".tab-count").textContent = counted ? ` ${count}` : "";
    tab.setAttribute("aria-label", counted ? `${label}, ${count}` : label);
  }
}

function switchQueue(q) {
  if (!state || !(q in QUEUES)) return;
  const tab = state.root.querySelector(`#tab-${q}`);
  if (tab) tab.focus();
  if (q === state.queue) return;
  if (state.panel) release(state.items.find((x) => x.id === state.panel.id));
  state.counts[state.queue] = state.total;
  Object.assign(state, { queue: q, items: [], selected: 0, panel: null, nextCursor: null });
  state.fresh.clear();
  updateBanner();
  // what the API applies to each list: sorts and claims to the pending queue only; flags
  // to every list but the reported one
  const disabled = { sort: q !== "pending", "filter-unclaimed": q !== "pending",
    "filter-flag": q === "reported" };
  for (const [id, off] of Object.entries(disabled)) {
    const control = state.root.querySelector(`#${id}`);
    if (control) control.disabled = off;
  }
  state.root.querySelector("#cards").setAttribute("aria-label", `${QUEUES[q]} comments`);
  updateTabs();
  load(false, true).then(() => refreshCounts());
}

function tabKeys(event) {
  const order = Object.keys(QUEUES);
  const at = order.indexOf(state.queue);
  const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: order.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  event.stopPropagation();
  switchQueue(order[(next + order.length) % order.length]);
}

// A card decided elsewhere leaves after a moment, unless it is the one being looked at
// (then it leaves when the moderator moves on).
function dropGone(item) {
  if (!state || !state.items.includes(item)) return;
  if (selectedItem() === item) return;
  const chosen = selectedItem();
  state.items = state.items.filter((x) => x !== item);
  restoreSelection(chosen);
  render();
}

function restoreSelection(chosen) {
  if (!chosen) return;
  const index = visible().indexOf(chosen);
  if (index !== -1) state.selected = index;
}

function replaceCard(item) {
  const element = cardElement(item.id);
  if (!element) return;
  const focused = document.activeElement === element;
  const fresh = renderCard(item, visible().indexOf(item));
  element.replaceWith(fresh);
  if (focused) fresh.focus({ preventScroll: true });
}

function updateBanner() {
  const banner = state.root.querySelector("#new-banner");
  const count = state.fresh.size;
  banner.hidden = count === 0;
  banner.textContent = count === 1 ? "1 new comment: show it" : `${count} new comments: show them`;
}

async function showFresh() {
  const ids = [...state.fresh].slice(0, 100);
  const chosen = selectedItem();
  const got = await Promise.all(ids.map((id) =>
    call(`/v1/comments/${encodeURIComponent(id)}`).then(({ data }) => data).catch(() => null)));
  if (!state) return;
  const f = state.filters;
  const known = new Set(state.items.map((x) => x.id));
  const adding = got.filter((c) => c && c.status === "pending" && !known.has(c.id)
    && (!f.article_id || c.article_id === f.article_id)
    && (!f.flag || c.flags.some((flag) => flag.code === f.flag)))
    .map((c) => ({ ...c, claim: null }));
  for (const id of ids) state.fresh.delete(id);
  if (f.sort === "newest") {
    adding.sort((x, y) => (x.submitted_at < y.submitted_at ? 1 : -1));
    state.items.unshift(...adding);
  } else if (f.sort === "risk") {
    state.items.push(...adding);
    state.items.sort((x, y) => (y.risk ?? 0) - (x.risk ?? 0));
  } else {
    state.items.push(...adding);
  }
  for (const item of adding) for (const flag of item.flags) state.flagsSeen.add(flag.code);
  restoreSelection(chosen);
  render();
  updateBanner();
  announce(adding.length === 1 ? "1 new comment shown." : `${adding.length} new comments shown.`);
  const first = adding[0] && cardElement(adding[0].id);
  if (first) first.scrollIntoView({ block: "nearest" });
  refocus();
}

function updateSummary() {
  const summary = state.root.querySelector("#queue-summary");
  if (!summary) return;
  const items = visible();
  const shown = items.length === state.items.length ? `${state.items.length}`
    : `${items.length} of ${state.items.length} loaded`;
  summary.textContent = (state.total === null ? `${QUEUES[state.queue]}, newest first`
    : `${state.total} ${state.queue}`) + ` · showing ${shown} · guidelines ${state.catalogue.version}`;
  updateTabs();
}

function toolbar() {
  const f = state.filters;
  const select = (id, label, options, value, onchange) => h("label", { class: "field" },
    h("span", {}, label),
    h("select", { id, onchange },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
  return h("div", { class: "toolbar", role: "search" },
    h("div", { class: "tabs", role: "tablist", "aria-label": "Queues", onkeydown: tabKeys },
      Object.entries(QUEUES).map(([q, label]) => h("button", {
        type: "button", role: "tab", id: `tab-${q}`, class: "tab", "aria-controls": "cards",
        "aria-selected": q === state.queue ? "true" : "false",
        tabindex: q === state.queue ? "0" : "-1", onclick: () => switchQueue(q) },
      label, h("span", { class: "tab-count" })))),
    select("sort", "Sort", [["oldest", "Oldest first"], ["newest", "Newest first"],
      ["risk", "Highest risk"]], f.sort, (e) => { f.sort = e.target.value; load(false); }),
    h("label", { class: "field" }, h("span", {}, "Article"),
      h("input", { id: "filter-article", type: "text", value: f.article_id, placeholder: "any",
        spellcheck: "false", onchange: (e) => { f.article_id = e.target.value.trim(); load(false); } })),
    h("label", { class: "field" }, h("span", {}, "Flag"),
      h("input", { id: "filter-flag", type: "text", list: "flags-seen", value: f.flag,
        placeholder: "any", spellcheck: "false",
        onchange: (e) => { f.flag = e.target.value.trim(); load(false); } }),
      h("datalist", { id: "flags-seen" })),
    select("filter-lang", "Language", [["", "Any"], ...Object.entries(LANGUAGES)], f.lang,
      (e) => { f.lang = e.target.value; render(); }),
    h("label", { class: "check" },
      h("input", { id: "filter-unclaimed", type: "checkbox", checked: f.unclaimed,
        onchange: (e) => { f.unclaimed = e.target.checked; load(false); } }),
      "Hide others' claims"),
    h("label", { class: "field grow" }, h("span", {}, "Search"),
      h("input", { id: "search", type: "search", placeholder: "text or author  ( / )",
        "aria-keyshortcuts": "/", oninput: (e) => { f.text = e.target.value.toLowerCase(); render(); } })));
}

async function load(more, force = false, given = null) {
  if (!state || (state.loading && !force)) return;
  state.loading = true;
  const f = state.filters;
  const queue = state.queue;
  const params = queue === "reported"
    ? { state: "reported", limit: PAGE, article_id: f.article_id }
    : DECIDED.has(queue) ? { status: queue, limit: PAGE, article_id: f.article_id, flag: f.flag }
      : { sort: f.sort, limit: PAGE, article_id: f.article_id, flag: f.flag,
        unclaimed: f.unclaimed ? "true" : null };
  try {
    const path = DECIDED.has(queue) ? "/v1/comments" : "/v1/queue";
    const { data } = given ? { data: given } : await call(`${path}${query({ ...params,
      cursor: more ? state.nextCursor : null })}`);
    if (!state || state.queue !== queue) return;
    if (!more) { state.items = []; state.selected = 0; }
    const known = new Set(state.items.map((item) => item.id));
    state.items.push(...data.items.filter((item) => !known.has(item.id)));
    state.total = data.total ?? null;  // searched lists are not counted
    state.nextCursor = data.next_cursor;
    for (const item of data.items) for (const flag of item.flags) state.flagsSeen.add(flag.code);
    render();
    if (!more && (document.activeElement === document.body
                  || document.activeElement === null || document.activeElement.id === "main")) {
      refocus();
    }
    // the first page's cards are on screen and keys reach them (bench/dashboard.py)
    if (!more && !performance.getEntriesByName("queue-interactive").length) {
      performance.mark("queue-interactive");
    }
    fetchParents();
  } catch (error) {
    if (state && error.status !== 401) {
      const message = error.status === 422 || error.status === 400
        ? `That filter is not valid: ${error.message}` : `Could not load the queue: ${error.message}`;
      announce(message, "error");
    }
  } finally {
    if (state) state.loading = false;
  }
}

// Replies show the comment they answer.
async function fetchParents() {
  for (const item of state.items) {
    if (!item.parent_id || state.parents.has(item.parent_id)) continue;
    state.parents.set(item.parent_id, null);
    try {
      const { data } = await call(`/v1/comments/${encodeURIComponent(item.parent_id)}`);
      if (!state) return;
      state.parents.set(item.parent_id, data);
      const card = cardElement(item.id);
      if (card) card.replaceWith(renderCard(item, state.items.indexOf(item)));
    } catch (error) {
      /* the card simply shows no parent */
    }
  }
}

function visible() {
  const f = state.filters;
  return state.items.filter((item) => {
    if (f.lang && detectLang(item.body) !== f.lang) return false;
    if (f.text) {
      const hay = `${item.body || ""} ${item.author_name || ""} ${item.article_id}`.toLowerCase();
      if (!hay.includes(f.text)) return false;
    }
    return true;
  });
}

function cardElement(id) {
  return state.root.querySelector(`.card[data-id="${CSS.escape(id)}"]`);
}

function render() {
  if (!state) return;
  const items = visible();
  state.selected = Math.max(0, Math.min(state.selected, items.length - 1));
  const cards = clear(state.root.querySelector("#cards"));
  if (items.length === 0) {
    cards.append(h("p", { class: "empty" }, state.items.length ? "No comment matches the filters."
      : state.queue === "reported" ? "No comment has open reader reports."
        : DECIDED.has(state.queue) ? `No ${state.queue} comment matches.`
        : "The queue is empty. New comments will appear here."));
  }
  items.forEach((item, index) => cards.append(renderCard(item, index)));
  updateSummary();
  state.root.querySelector("#more").hidden = !state.nextCursor;
  const list = state.root.querySelector("#flags-seen");
  clear(list).append(...[...state.flagsSeen].sort().map((code) => h("option", { value: code })));
}

function renderCard(item, index) {
  const selected = index === state.selected;
  const parent = item.parent_id ? state.parents.get(item.parent_id) : null;
  const titleId = `card-${item.id}-title`;
  const card = h("article", {
    class: `card${selected ? " selected" : ""}${item.gone ? " gone" : ""}`,
    tabindex: "-1", role: "listitem", "aria-labelledby": titleId, dataset: { id: item.id },
    "aria-current": selected ? "true" : null,
    onclick: (event) => {
      if (event.target.closest("button, a, input, textarea, label")) return;
      select(visible().findIndex((x) => x.id === item.id));
    },
  },
  h("header", { class: "card-head" },
    h("h2", { class: "card-title", id: titleId }, authorLine(item)),
    metaLine(item),
    standingLine(item),
    claimLine(item)),
  item.parent_id ? h("blockquote", { class: "parent" },
    h("span", { class: "parent-label" }, "In reply to ",
      parent ? h("bdi", { dir: "auto" }, parent.author_name ?? "(erased)") : "a comment"),
    parent ? commentText(parent, "parent-body") : null) : null,
  state.queue === "reported" ? reportCounts(item) : null,
  flagChips(item.flags, state.catalogue.byCode),
  BIDI_CONTROLS.test(item.body || "") ? h("p", { class: "warning" },
    "Contains invisible direction controls: the text may display in a different order "
    + "than it was typed.") : null,
  commentText(item),
  item.gone ? h("p", { class: "gone-note", role: "alert" }, item.gone) : null,
  DECIDED.has(state.queue) ? decisionLine(item) : null,
  h("div", { class: "actions" },
    state.queue === "reported"
      ? h("button", { type: "button", class: "approve", disabled: !!item.gone,
        "aria-keyshortcuts": "d", onclick: () => { select(index); dismiss(); } },
      "Dismiss reports ", h("kbd", {}, "d"))
      : state.queue === "approved" ? null
        : h("button", { type: "button", class: "approve", disabled: !!item.gone,
          "aria-keyshortcuts": "a", onclick: () => { select(index); approve(); } },
        state.queue === "rejected" ? "Approve instead… " : "Approve ", h("kbd", {}, "a")),
    state.queue === "rejected" ? null
      : h("button", { type: "button", class: "reject", disabled: !!item.gone,
        "aria-keyshortcuts": "r", onclick: () => { select(index); openPanel("reject"); } },
      state.queue === "approved" ? "Reject instead… " : "Reject… ", h("kbd", {}, "r")),
    h("button", { type: "button", class: "quiet", "aria-keyshortcuts": "n",
      onclick: () => { select(index); openPanel("note"); } }, "Note ", h("kbd", {}, "n")),
    h("a", { href: `#/comment/${item.id}`, class: "button quiet", "aria-keyshortcuts": "h" },
      "History ", h("kbd", {}, "h"))),
  state.panel && state.panel.id === item.id ? panel(item) : null);
  return card;
}

// Who decided an approved or rejected comment, when, and why.
function decisionLine(item) {
  if (!item.decided_at) return null;
  const reasons = (item.reasons || []).map((code) =>
    state.catalogue.byCode.get(code)?.title ?? humanCode(code));
  return h("p", { class: "decision" },
    `${item.status === "approved" ? "Approved" : "Rejected"} by `,
    h("bdi", {}, item.decided_by || "someone"), " ",
    h("time", { datetime: item.decided_at, title: utc(item.decided_at) }, ago(item.decided_at)),
    reasons.length ? ` · ${reasons.join(", ")}` : "",
    item.note ? [" · note: ", h("bdi", { dir: "auto" }, item.note)] : null);
}

// What readers reported: open reports per guideline, most first, by the catalogue's names.
function reportCounts(item) {
  const open = item.open_reports || 0;
  const entries = Object.entries(item.reports || {}).sort((x, y) => y[1] - x[1]);
  return h("div", { class: "reports" },
    h("p", { class: "reports-total" },
      `${open} open report${open === 1 ? "" : "s"}`,
      item.total_reports && item.total_reports !== open ? ` (${item.total_reports} in all)` : "",
      item.withheld ? h("span", { class: "withheld" }, "Withheld from readers") : null),
    h("ul", { class: "chips", "aria-label": "Open reports per guideline" },
      entries.map(([code, count]) => h("li", { class: "chip report-chip", dataset: { reason: code } },
        h("span", { class: "chip-guideline" },
          state.catalogue.byCode.get(code)?.title ?? humanCode(code)),
        h("span", { class: "chip-count" }, String(count))))));
}

function panel(item) {
  const p = state.panel;
  const note = state.notes.get(item.id) || "";
  const needsNote = [...p.reasons].some((code) => state.catalogue.byCode.get(code)?.note_required)
    || item.status !== "pending";
  const noteField = h("label", { class: "note" },
    h("span", {}, needsNote ? "Note (required)" : "Note (optional)"),
    h("textarea", { id: `note-${item.id}`, rows: "2", maxlength: "2000", dir: "auto",
      "aria-required": needsNote ? "true" : "false",
      oninput: (e) => state.notes.set(item.id, e.target.value) }, note));
  if (p.mode === "note") {
    return h("div", { class: "panel", role: "group", "aria-label": "Note" }, noteField,
      h("p", { class: "hint" }, "Esc returns to the card; the note goes with the next decision."));
  }
  return h("div", { class: "panel", role: "group", "aria-label": "Reject: reasons" },
    h("fieldset", { class: "reasons" },
      h("legend", {}, `Reasons (guidelines ${state.catalogue.version})`),
      state.catalogue.list.map((g, i) => h("label", { class: "reason", title: g.description },
        h("input", { type: "checkbox", value: g.code, checked: p.reasons.has(g.code),
          onchange: (e) => toggleReason(g.code, e.target.checked) }),
        i < 9 ? h("kbd", {}, String(i + 1)) : null, " ", g.title,
        g.note_required ? h("span", { class: "hint" }, " (needs a note)") : null))),
    noteField,
    item.status !== "pending" ? h("p", { class: "hint note-why" },
      `This comment is ${item.status}: rejecting it changes that decision, so a note is required.`)
      : null,
    h("p", { class: "panel-actions" },
      h("button", { type: "button", class: "reject", onclick: () => reject() },
        "Reject ", h("kbd", {}, "Enter")),
      h("button", { type: "button", class: "quiet", onclick: () => closePanel() }, "Cancel ",
        h("kbd", {}, "Esc"))),
    h("p", { class: "panel-msg", role: "alert" }, p.message || ""));
}

function selectedItem() {
  return visible()[state.selected] || null;
}

function select(index, focus = true) {
  const items = visible();
  if (items.length === 0) return;
  const leaving = items[state.selected];
  index = Math.max(0, Math.min(index, items.length - 1));
  if (leaving && leaving.gone && index !== state.selected) {
    // a card decided elsewhere leaves once the moderator moves on
    state.items = state.items.filter((x) => x !== leaving);
    if (index > state.selected) index -= 1;
    state.selected = index;
    if (state.panel && state.panel.id === leaving.id) state.panel = null;
    render();
  } else {
    const before = cardElement(items[state.selected]?.id);
    if (before) { before.classList.remove("selected"); before.removeAttribute("aria-current"); }
    state.selected = index;
  }
  if (state.panel && state.panel.id !== visible()[state.selected]?.id) {
    state.panel = null;
    render();
  }
  const card = cardElement(visible()[state.selected].id);
  card.classList.add("selected");
  card.setAttribute("aria-current", "true");
  if (focus) { card.focus({ preventScroll: true }); card.scrollIntoView({ block: "nearest" }); }
}

export function refocus() {
  if (!state) return;
  const item = selectedItem();
  const card = item && cardElement(item.id);
  if (card) card.focus({ preventScroll: true });
}

function rerender(focusNote) {
  render();
  const item = selectedItem();
  if (!item) return;
  const card = cardElement(item.id);
  if (focusNote) card.querySelector("textarea").focus();
  else card.focus({ preventScroll: true });
  card.scrollIntoView({ block: "nearest" });
}

function openPanel(mode) {
  const item = selectedItem();
  if (!item || (item.gone && mode === "reject")) return;
  const open = state.panel && state.panel.id === item.id ? state.panel : null;
  if (open && mode === "note") {  // n within the reason picker: write the note, keep the picker
    rerender(true);
    return;
  }
  state.panel = { id: item.id, mode, reasons: open ? open.reasons : new Set(), message: "" };
  rerender(mode === "note");
  if (mode === "reject" && item.status === "pending") claim(item);
}

// Picking reasons takes a moment: say so to other moderators with an advisory claim
// (If-Match still decides any race). Someone else's claim is shown, not obeyed.
async function claim(item) {
  const before = item.claim;
  item.claim = { mine: true, pending: true };  // the stream may echo it before the answer
  try {
    const { data } = await call(`/v1/comments/${item.id}/claim`, { method: "POST" });
    item.claim = { moderator_id: data.moderator_id, claimed_at: data.claimed_at,
      expires_at: data.expires_at, mine: true };
  } catch (error) {
    if (item.claim && item.claim.pending) item.claim = before;
    if (!state || error.status !== 409) return;
    if (state.panel && state.panel.id === item.id) {
      state.panel.message = `${error.message} You may still decide; the first decision wins.`;
      rerender(false);
    }
  }
}

function release(item) {
  if (item && item.claim && item.claim.mine) {
    item.claim = null;
    call(`/v1/comments/${item.id}/claim`, { method: "DELETE" }).catch(() => {});
  }
}

function closePanel() {
  if (state.panel) release(state.items.find((x) => x.id === state.panel.id));
  state.panel = null;
  rerender(false);
}

function toggleReason(code, on) {
  const p = state.panel;
  if (!p) return;
  if (on === undefined) on = !p.reasons.has(code);
  if (on) p.reasons.add(code); else p.reasons.delete(code);
  p.message = "";
  const item = selectedItem();
  const card = cardElement(item.id);
  const box = card.querySelector(`input[value="${CSS.escape(code)}"]`);
  if (box) box.checked = on;
  const needsNote = [...p.reasons].some((c) => state.catalogue.byCode.get(c)?.note_required);
  const label = card.querySelector(".note > span");
  if (label) label.textContent = needsNote ? "Note (required)" : "Note (optional)";
  announce(`${state.catalogue.byCode.get(code).title} ${on ? "selected" : "removed"}`);
}

function noteFor(item) {
  const note = (state.notes.get(item.id) || "").trim();
  return note || null;
}

async function approve() {
  const item = selectedItem();
  if (!item || item.gone) return;
  if (item.status !== "pending" && !noteFor(item)) {
    state.panel = { id: item.id, mode: "note", reasons: new Set(),
      message: "Changing an earlier decision needs a note." };
    announce("Changing an earlier decision needs a note.", "error");
    rerender(true);
    return;
  }
  await decide(item, "approve", { note: noteFor(item) });
}

async function reject() {
  const item = selectedItem();
  const p = state.panel;
  if (!item || !p || item.gone) return;
  const reasons = [...p.reasons];
  const problem = reasons.length === 0 ? "Pick at least one reason (1–9)."
    : (reasons.some((c) => state.catalogue.byCode.get(c)?.note_required)
       || item.status !== "pending") && !noteFor(item)
      ? "This needs a note: press n and write one." : null;
  if (problem) {
    p.message = problem;
    announce(problem, "error");
    rerender(problem.includes("note"));
    return;
  }
  await decide(item, "reject", { reasons, note: noteFor(item) });
}

// Keep a reported comment published: its open reports are resolved (with the note, if any).
async function dismiss() {
  const item = selectedItem();
  if (!item || item.gone || state.queue !== "reported") return;
  await decide(item, "reports/dismiss", { note: noteFor(item) });
}

async function decide(item, action, body) {
  const card = cardElement(item.id);
  state.mine.add(item.id);
  card.setAttribute("aria-busy", "true");
  for (const button of card.querySelectorAll("button")) button.disabled = true;
  try {
    await call(`/v1/comments/${item.id}/${action}`, {
      method: "POST", body, headers: { "If-Match": `"${item.version}"` } });
    if (!state) return;
    removeItem(item);
    state.notes.delete(item.id);
    const who = item.author_name ?? "the author";
    announce(action === "approve" ? `Approved the comment by ${who}.`
      : action === "reports/dismiss" ? `Dismissed the reports on the comment by ${who}; it stays published.`
      : `Rejected the comment by ${who} (${body.reasons.map(humanCode).join(", ")}).`);
  } catch (error) {
    if (!state) return;
    state.mine.delete(item.id);
    card.removeAttribute("aria-busy");
    handleRefusal(item, error);
  }
}

function removeItem(item) {
  state.items = state.items.filter((x) => x.id !== item.id);
  if (state.total !== null) state.total = Math.max(0, state.total - 1);
  if (state.panel && state.panel.id === item.id) state.panel = null;
  rerender(false);
}

function handleRefusal(item, error) {
  if (!(error instanceof ApiError) || error.status === 401) return;
  const body = error.body || {};
  if (error.status === 409 && body.code === "version_conflict" && state.queue === "reported") {
    reportedConflict(item, body);
    return;
  }
  if (error.status === 409 && body.code === "version_conflict") {
    const win = body.winning_decision;
    const current = body.current;
    if (win) {
      item.gone = `${win.moderator_id} ${win.decision} this ${ago(win.decided_at)} `
        + `(${utc(win.decided_at)})${win.reasons.length ? `, citing ${win.reasons.map(humanCode).join(", ")}` : ""}`
        + "; your decision was not applied.";
    } else {
      item.gone = null;
    }
    if (current) Object.assign(item, { ...current, id: item.id });
    if (current && current.status === "pending") {
      item.gone = null;
      announce("The comment changed since it was shown; it has been refreshed: decide again.",
        "error");
    } else {
      announce(`Conflict: ${item.gone}`, "error");
    }
    if (state.panel && state.panel.id === item.id) state.panel = null;
    rerender(false);
    return;
  }
  if (error.status === 409 || error.status === 404) {
    item.gone = error.message;
    rerender(false);
    announce(error.message, "error");
    return;
  }
  const message = error.body.errors ? `${error.message} ${Object.values(error.body.errors).flat().join(" ")}`
    : error.message;
  if (state.panel && state.panel.id === item.id) state.panel.message = message;
  rerender(false);
  announce(message, "error");
}

// Someone acted on a reported comment first: the comment's own events say who and what.
async function reportedConflict(item, body) {
  const current = body.current;
  let last = null;
  try {
    const { data } = await call(`/v1/comments/${encodeURIComponent(item.id)}/events`);
    const events = data.items || data.events || data || [];
    last = [...events].reverse().find((e) => e.type !== "comment.screened") || null;
  } catch (error) { /* said without a name below */ }
  if (!state) return;
  if (current) Object.assign(item, { ...current, id: item.id, claim: item.claim, author: item.author });
  const type = last && last.type;
  const data = (last && last.data) || {};
  const who = data.moderator_id || "someone";
  const when = data.dismissed_at || data.decided_at || (last && last.recorded_at);
  if (type === "comment.reported" && current && current.status !== "rejected") {
    item.gone = null;
    item.open_reports = (item.open_reports || 0) + 1;
    announce("Another report arrived since it was shown; the card has been refreshed: act again.",
      "error");
  } else {
    const what = type === "comment.reports_dismissed" ? "dismissed the reports on"
      : type === "comment.rejected" ? "rejected" : "changed";
    item.gone = `${who} ${what} this ${when ? `${ago(when)} (${utc(when)})` : "first"}; `
      + "your action was not applied.";
    announce(`Conflict: ${item.gone}`, "error");
  }
  if (state.panel && state.panel.id === item.id) state.panel = null;
  rerender(false);
}

// Keys: the shell passes everything it does not handle itself.
export function onKey(event, typing) {
  if (!state || !state.catalogue) return;
  const key = event.key;
  if (typing) {
    if (key === "Escape") {
      event.preventDefault();
      if (event.target.id === "search") { event.target.blur(); refocus(); return; }
      if (state.panel && state.panel.mode === "note") { closePanel(); return; }
      refocus();
    } else if (key === "Enter" && !event.shiftKey && event.target.tagName === "TEXTAREA"
               && state.panel && state.panel.mode === "reject") {
      event.preventDefault();
      reject();
    }
    return;
  }
  const handlers = {
    j: () => select(state.selected + 1),
    ArrowDown: () => select(state.selected + 1),
    k: () => select(state.selected - 1),
    ArrowUp: () => select(state.selected - 1),
    a: () => { if (state.queue === "pending" || state.queue === "rejected") approve(); },
    d: () => dismiss(),
    r: () => { if (state.queue !== "rejected") openPanel("reject"); },
    n: () => openPanel("note"),
    h: () => { const item = selectedItem(); if (item) location.hash = `#/comment/${item.id}`; },
    "/": () => state.root.querySelector("#search").focus(),
    Escape: () => { if (state.panel) closePanel(); },
    Enter: () => { if (state.panel && state.panel.mode === "reject") reject(); },
  };
  if (state.panel && state.panel.mode === "reject" && /^[1-9]$/.test(key)) {
    const guideline = state.catalogue.list[Number(key) - 1];
    if (guideline) { event.preventDefault(); toggleReason(guideline.code); }
    return;
  }
  if (key === "Enter" && event.target.closest && event.target.closest("button, a, input")) return;
  const handler = handlers[key];
  if (handler) { event.preventDefault(); handler(); }
}
