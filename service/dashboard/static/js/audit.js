// The audit view: every decision, filtered by moderator, reason, article and dates, and the
// filtered list as CSV (every page, not just the one shown).

import { call, query } from "./api.js";
import { announce, clear, h } from "./dom.js";
import { duration, humanCode, utc } from "./format.js";
import { guidelines } from "./queue.js";

const PAGE = 100;
const CSV_MAX_ROWS = 50000;
const COLUMNS = ["position", "decided_at", "moderator_id", "decision", "reversal",
  "previous_status", "reasons", "guideline_version", "note", "article_id", "comment_id",
  "submitted_at", "seconds_to_decision"];
let state = null;

export async function mount(root, { role }) {
  state = { root, role, rows: [], next: null, filters: {}, catalogue: await guidelines() };
  document.title = "Audit · Moderation dashboard";
  const field = (id, label, input) => h("label", { class: "field" }, h("span", {}, label), input);
  root.append(
    h("h1", {}, "Audit: decisions"),
    h("form", { class: "toolbar", id: "audit-filters", role: "search",
      onsubmit: (e) => { e.preventDefault(); apply(); } },
      field("f-moderator", "Moderator", h("input", { id: "f-moderator", name: "moderator",
        type: "text", placeholder: "any", spellcheck: "false" })),
      field("f-reason", "Reason", h("select", { id: "f-reason", name: "reason" },
        h("option", { value: "" }, "Any"),
        state.catalogue.list.map((g) => h("option", { value: g.code }, g.title)))),
      field("f-article", "Article", h("input", { id: "f-article", name: "article_id",
        type: "text", placeholder: "any", spellcheck: "false" })),
      field("f-since", "From (UTC)", h("input", { id: "f-since", name: "since", type: "date" })),
      field("f-until", "To (UTC, inclusive)", h("input", { id: "f-until", name: "until",
        type: "date" })),
      h("button", { type: "submit" }, "Apply"),
      h("button", { type: "button", class: "quiet", id: "csv", onclick: () => downloadCsv() },
        "Download CSV")),
    h("p", { class: "summary", id: "audit-summary", "aria-live": "polite" }),
    h("div", { class: "table-wrap" }, h("table", { id: "audit-table" },
      h("caption", { class: "sr-only" }, "Decisions, oldest first"),
      h("thead", {}, h("tr", {}, ["When (UTC)", "Moderator", "Decision", "Reasons", "Note",
        "Article", "Comment", "Time to decision"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}))),
    h("p", { class: "more" }, h("button", { type: "button", id: "audit-more", hidden: true,
      onclick: () => load(true) }, "Load more")));
  await apply();
}

export function unmount() { state = null; }

function filters() {
  const form = state.root.querySelector("#audit-filters");
  const value = (name) => form.elements[name].value.trim();
  const day = (text, plus = 0) => {
    if (!text) return null;
    const date = new Date(`${text}T00:00:00Z`);
    date.setUTCDate(date.getUTCDate() + plus);
    return date.toISOString().replace(".000Z", "Z");
  };
  return { moderator: value("moderator"), reason: value("reason"),
    article_id: value("article_id"), since: day(value("since")), until: day(value("until"), 1) };
}

async function apply() {
  state.filters = filters();
  state.rows = [];
  state.next = null;
  await load(false);
}

async function page(cursor) {
  return (await call(`/v1/audit/decisions${query({ ...state.filters, limit: PAGE, cursor })}`)).data;
}

async function load(more) {
  try {
    const data = await page(more ? state.next : null);
    if (!state) return;
    state.rows.push(...data.items);
    state.next = data.next_cursor;
    render(more ? data.items : state.rows, !more);
  } catch (error) {
    if (state && error.status !== 401) announce(`Could not load decisions: ${error.message}`, "error");
  }
}

function render(rows, replace) {
  const body = state.root.querySelector("#audit-table tbody");
  if (replace) clear(body);
  for (const row of rows) body.append(renderRow(row));
  const shown = state.rows.length;
  state.root.querySelector("#audit-summary").textContent = shown === 0
    ? "No decision matches these filters."
    : `${shown} decision${shown === 1 ? "" : "s"} shown${state.next ? " (more below)" : ""}`;
  state.root.querySelector("#audit-more").hidden = !state.next;
}

function renderRow(row) {
  const history = state.role !== "auditor";
  return h("tr", { dataset: { position: String(row.position) } },
    h("td", { class: "nowrap" }, h("time", { datetime: row.decided_at },
      utc(row.decided_at).replace(" UTC", ""))),
    h("td", { class: "nowrap" }, h("bdi", {}, row.moderator_id)),
    h("td", { class: "nowrap" }, h("span", { class: `status status-${row.decision}` }, row.decision),
      row.reversal ? h("span", { class: "hint" }, ` (was ${row.previous_status})`) : null),
    h("td", {}, row.reasons.map(humanCode).join(", ")),
    h("td", { dir: "auto" }, row.note || ""),
    h("td", { class: "nowrap" }, h("bdi", {}, row.article_id)),
    h("td", { class: "nowrap" }, history ? h("a", { href: `#/comment/${row.comment_id}` }, row.comment_id.slice(0, 8))
      : row.comment_id.slice(0, 8)),
    h("td", { class: "nowrap" }, duration(row.seconds_to_decision)));
}

// A spreadsheet must not run a cell as a formula: cells starting with = + - @ (or a tab or
// carriage return) are prefixed with an apostrophe, as OWASP recommends.
export function csvCell(value) {
  let text = value === null || value === undefined ? ""
    : Array.isArray(value) ? value.join(" ") : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function downloadCsv() {
  const button = state.root.querySelector("#csv");
  button.disabled = true;
  const current = filters();
  state.filters = current;
  const rows = [];
  try {
    let cursor = null;
    do {
      const data = await page(cursor);
      rows.push(...data.items);
      cursor = data.next_cursor;
      button.textContent = `Downloading… ${rows.length}`;
    } while (cursor && rows.length < CSV_MAX_ROWS && state);
  } catch (error) {
    announce(`Could not download: ${error.message}`, "error");
    return;
  } finally {
    button.disabled = false;
    button.textContent = "Download CSV";
  }
  const lines = [COLUMNS.join(","), ...rows.map((row) => COLUMNS.map((c) => csvCell(row[c])).join(","))];
  const blob = new Blob([`\ufeff${lines.join("\r\n")}\r\n`], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(":", "");
  const link = h("a", { href: url, download: `decisions-${stamp}.csv`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  announce(`Downloaded ${rows.length} decisions as CSV.`);
}
