// A comment's history: every event of its stream, and time travel through them: step or
// drag along its positions and see the comment as it stood at each one.

import { ApiError, call } from "./api.js";
import { announce, clear, h } from "./dom.js";
import { authorLine, commentText, flagChips, metaLine } from "./card.js";
import { ago, humanCode, utc } from "./format.js";
import { guidelines } from "./queue.js";

let state = null;

export async function mount(root, { args }) {
  const id = args[0];
  state = { root, id, events: [], index: 0, catalogue: await guidelines(), cache: new Map() };
  document.title = "History · Moderation dashboard";
  root.append(h("p", {}, h("a", { href: "#/queue" }, "← Back to the queue")),
    h("h1", {}, "History of a comment"));
  const [{ data: history }, { data: now }] = await Promise.all([
    call(`/v1/comments/${encodeURIComponent(id)}/events`),
    call(`/v1/comments/${encodeURIComponent(id)}`),
  ]);
  if (!state) return;
  state.events = history.items;
  state.now = now;
  state.index = state.events.length - 1;
  root.append(
    h("section", { class: "travel", "aria-labelledby": "travel-title" },
      h("h2", { id: "travel-title" }, "Time travel"),
      h("div", { class: "travel-controls" },
        h("button", { type: "button", id: "step-back", "aria-keyshortcuts": "ArrowLeft",
          onclick: () => go(state.index - 1) }, "◀ Earlier"),
        h("input", { type: "range", id: "position", min: "0", max: String(state.events.length - 1),
          value: String(state.index), step: "1", "aria-label": "Position in the history",
          oninput: (e) => go(Number(e.target.value)) }),
        h("button", { type: "button", id: "step-forward", "aria-keyshortcuts": "ArrowRight",
          onclick: () => go(state.index + 1) }, "Later ▶")),
      h("p", { class: "travel-where", id: "travel-where", "aria-live": "polite" }),
      h("div", { id: "as-of" })),
    h("section", { class: "travel", id: "change", "aria-labelledby": "change-title" }),
    h("section", { "aria-labelledby": "timeline-title" },
      h("h2", { id: "timeline-title" }, "Events"),
      h("ol", { class: "timeline", id: "timeline" },
        state.events.map((event, index) => h("li", { dataset: { index: String(index) } },
          h("button", { type: "button", class: "event", onclick: () => go(index) },
            h("span", { class: "event-type" }, event.type),
            h("span", { class: "event-pos" }, `#${event.position}`),
            h("time", { datetime: event.recorded_at }, utc(event.recorded_at)),
            h("span", { class: "event-actor" }, actorOf(event))),
          summary(event))))));
  await go(state.index);
  renderChange();
}

// Deciding from the history: for a pending comment as in the queue; changing an earlier
// decision needs a note, and the form says so before anything is sent.
function renderChange() {
  const now = state.now;
  const section = clear(state.root.querySelector("#change"));
  if (!section) return;
  const changing = now.status !== "pending";
  const options = ["approve", "reject"].filter((a) => `${a}d` !== now.status
    && !(a === "reject" && now.status === "rejected"));
  section.append(
    h("h2", { id: "change-title" }, changing ? "Change the decision" : "Decide"),
    changing ? h("p", { class: "hint", id: "change-hint" },
      `It is ${now.status} now (version ${now.version}); changing it needs a note saying why.`)
      : null,
    h("form", { id: "change-form", class: "change-form", novalidate: true,
      onsubmit: (e) => { e.preventDefault(); submitChange(); } },
      h("fieldset", { class: "reasons" }, h("legend", {}, "Decision"),
        options.map((a, i) => h("label", { class: "reason" },
          h("input", { type: "radio", name: "action", value: a, checked: i === 0,
            onchange: () => toggleReasons() }), a === "approve" ? "Approve" : "Reject"))),
      h("label", { class: "field", id: "change-reason-field" }, h("span", {}, "Reason"),
        h("select", { name: "reason" }, state.catalogue.list.map((g) =>
          h("option", { value: g.code }, g.title)))),
      h("label", { class: "note" },
        h("span", {}, changing ? "Note (required)" : "Note (optional)"),
        h("textarea", { name: "note", rows: "2", maxlength: "2000", dir: "auto",
          required: changing, "aria-required": changing ? "true" : "false" })),
      h("p", { class: "panel-actions" }, h("button", { type: "submit" }, "Send")),
      h("p", { class: "panel-msg", id: "change-msg", role: "alert" })));
  toggleReasons();
}

function toggleReasons() {
  const form = state.root.querySelector("#change-form");
  const action = form.elements.action.value;
  state.root.querySelector("#change-reason-field").hidden = action !== "reject";
}

async function submitChange() {
  const form = state.root.querySelector("#change-form");
  const msg = state.root.querySelector("#change-msg");
  const action = form.elements.action.value;
  const note = form.elements.note.value.trim() || null;
  const reason = form.elements.reason.value;
  const needsNote = state.now.status !== "pending"
    || (action === "reject" && state.catalogue.byCode.get(reason)?.note_required);
  if (needsNote && !note) {
    msg.textContent = "Write a note first: it says why the decision changes.";
    form.elements.note.focus();
    return;
  }
  const body = action === "reject" ? { reasons: [reason], note } : { note };
  try {
    await call(`/v1/comments/${encodeURIComponent(state.id)}/${action}`, {
      method: "POST", body, headers: { "If-Match": `"${state.now.version}"` } });
    announce(`${action === "approve" ? "Approved" : "Rejected"}.`);
    const id = state.id;
    const root = state.root;
    clear(root);
    await mount(root, { args: [id] });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 401) return;
    const win = error.body.winning_decision;
    msg.textContent = error.status === 409 && win
      ? `${win.moderator_id} ${win.decision} this ${ago(win.decided_at)} (${utc(win.decided_at)}) `
        + "first; reload the history to see it."
      : error.message;
  }
}

export function unmount() { state = null; }

function actorOf(event) {
  const actor = event.metadata && event.metadata.actor;
  return actor ? `${actor.id} (${actor.role})` : "";
}

function summary(event) {
  const d = event.data || {};
  const bits = [];
  if (event.type === "comment.screened") {
    bits.push(`risk ${d.risk}`, ...(d.flags || []).map((f) => humanCode(f.code)));
  }
  if (d.reasons && d.reasons.length) bits.push(`reasons: ${d.reasons.map(humanCode).join(", ")}`);
  if (d.previous_status) bits.push(`was ${d.previous_status}`);
  if (d.note) bits.push(`note: ${d.note}`);
  return bits.length ? h("p", { class: "event-summary", dir: "auto" }, bits.join(" · ")) : null;
}

async function go(index) {
  if (!state || state.events.length === 0) return;
  index = Math.max(0, Math.min(index, state.events.length - 1));
  state.index = index;
  const event = state.events[index];
  state.root.querySelector("#position").value = String(index);
  for (const li of state.root.querySelectorAll("#timeline li")) {
    li.classList.toggle("current", Number(li.dataset.index) === index);
    li.classList.toggle("future", Number(li.dataset.index) > index);
  }
  let comment = state.cache.get(event.position);
  if (!comment) {
    ({ data: comment } = await call(
      `/v1/comments/${encodeURIComponent(state.id)}?at_position=${event.position}`));
    state.cache.set(event.position, comment);
  }
  if (!state || state.index !== index) return;
  state.root.querySelector("#travel-where").textContent =
    `Event ${index + 1} of ${state.events.length}: position ${event.position}, ${event.type}, `
    + `${utc(event.recorded_at)}${index === state.events.length - 1 ? " (now)" : ""}`;
  clear(state.root.querySelector("#as-of")).append(
    h("article", { class: `card as-of status-${comment.status}` },
      h("header", { class: "card-head" }, h("h3", { class: "card-title" }, authorLine(comment)),
        metaLine(comment)),
      h("p", { class: "status-line" }, h("span", { class: `status status-${comment.status}` },
        comment.status), comment.decided_by ? [" by ", h("bdi", {}, comment.decided_by)] : null,
        comment.reasons.length ? ` · ${comment.reasons.map(humanCode).join(", ")}` : null,
        comment.note ? [" · note: ", h("bdi", {}, comment.note)] : null,
        ` · version ${comment.version}`),
      flagChips(comment.flags, state.catalogue.byCode),
      commentText(comment)));
}

export function onKey(event, typing) {
  if (!state || typing && event.target.type !== "range") return;
  if (event.key === "ArrowLeft" || event.key === "[") { event.preventDefault(); go(state.index - 1); }
  if (event.key === "ArrowRight" || event.key === "]") { event.preventDefault(); go(state.index + 1); }
  if (event.key === "Escape" || event.key === "Backspace") { event.preventDefault(); location.hash = "#/queue"; }
}

export function refocus() {
  if (state) state.root.querySelector("#position")?.focus();
}
