// One comment as a card: who wrote it where and when, why screening held it, and the text
// exactly as written (text nodes only, `dir="auto"` and the detected `lang`).

import { h } from "./dom.js";
import { ago, humanCode, riskLevel, utc } from "./format.js";
import { detectLang, LANGUAGES } from "./lang.js";

// The body as text nodes, with each piece of screening evidence that occurs in it marked.
export function bodyNodes(body, flags) {
  if (body === null || body === undefined) {
    return [h("span", { class: "erased" }, "(erased)")];
  }
  const lower = body.toLowerCase();
  const sameLength = lower.length === body.length;
  const ranges = [];
  for (const flag of flags || []) {
    const evidence = (flag.evidence || "").trim();
    if (!evidence || evidence.length > body.length) continue;
    const needle = sameLength ? evidence.toLowerCase() : evidence;
    const hay = sameLength ? lower : body;
    let from = 0;
    for (let at = hay.indexOf(needle, from); at !== -1; at = hay.indexOf(needle, from)) {
      ranges.push([at, at + needle.length, flag]);
      from = at + needle.length;
    }
  }
  ranges.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
  const nodes = [];
  let cursor = 0;
  for (const [start, end, flag] of ranges) {
    if (start < cursor) continue;
    if (start > cursor) nodes.push(body.slice(cursor, start));
    nodes.push(h("mark", { title: `${humanCode(flag.code)}${flag.guideline ? ` · ${humanCode(flag.guideline)}` : ""}` },
      body.slice(start, end)));
    cursor = end;
  }
  if (cursor < body.length) nodes.push(body.slice(cursor));
  return nodes;
}

export function flagChips(flags, guidelines) {
  if (!flags || flags.length === 0) return null;
  return h("ul", { class: "chips", "aria-label": "Why screening held it" },
    flags.map((flag) => {
      const guideline = flag.guideline && guidelines.get(flag.guideline);
      return h("li", { class: "chip", dataset: { flag: flag.code }, title: flag.evidence || "" },
        h("span", { class: "chip-code" }, humanCode(flag.code)),
        flag.guideline
          ? h("span", { class: "chip-guideline" }, guideline ? guideline.title : humanCode(flag.guideline))
          : null);
    }));
}

export function commentText(comment, className = "body") {
  const lang = detectLang(comment.body);
  return h("p", { class: className, dir: "auto", lang: lang || null,
                  dataset: { lang: lang || "" } },
    bodyNodes(comment.body, comment.flags));
}

export function authorLine(comment) {
  const lang = detectLang(comment.body);
  return [
    h("bdi", { class: "author", dir: "auto" }, comment.author_name ?? "(name erased)"),
    " ",
    h("span", { class: "pseudonym", title: "Pseudonymous author id" },
      (comment.author_id || "").replace(/^author-/, "").slice(0, 8)),
    lang ? h("span", { class: "lang-badge", title: "Detected language" }, LANGUAGES[lang]) : null,
  ];
}

export function metaLine(comment) {
  const level = riskLevel(comment.risk);
  return h("p", { class: "meta" },
    "on ", h("bdi", { class: "article" }, comment.article_id),
    " · ",
    h("time", { datetime: comment.submitted_at, title: utc(comment.submitted_at) },
      ago(comment.submitted_at)),
    comment.risk !== null && comment.risk !== undefined
      ? [" · ", h("span", { class: `risk risk-${level}` }, `risk ${comment.risk.toFixed(2)}`)]
      : null);
}

/* The author's record from the queue item (counts, recent rejections, warnings, live
   sanction), so a moderator sees a repeat offender without another call. */
export function standingLine(comment) {
  const a = comment.author;
  if (!a) return null;
  const parts = [`${a.counts.total} comment${a.counts.total === 1 ? "" : "s"}`,
    `${a.counts.rejected} rejected`];
  if (a.rejected_last_7_days) parts.push(`${a.rejected_last_7_days} this week`);
  if (a.warnings) parts.push(`${a.warnings} warning${a.warnings === 1 ? "" : "s"}`);
  const sanction = a.sanction
    ? h("span", { class: "sanction" }, a.sanction.type === "banned" ? "Banned"
      : `Suspended until ${utc(a.sanction.until)}`)
    : null;
  return h("p", { class: "standing", "aria-label": "Author's record" },
    parts.join(" · "), sanction ? [" · ", sanction] : null);
}
