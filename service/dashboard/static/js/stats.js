// Statistics: the queue now, and decisions over the last two weeks, as charts.

import { call, query } from "./api.js";
import { h } from "./dom.js";
import { bars, figure, lines, table } from "./charts.js";
import { duration, humanCode } from "./format.js";
import { guidelines } from "./queue.js";

const DAYS = 14;
let state = null;

function dayStart(offset) {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - offset));
}

const iso = (date) => date.toISOString().replace(".000Z", "Z");

export async function mount(root) {
  state = { root };
  document.title = "Statistics · Moderation dashboard";
  root.append(h("h1", {}, "Statistics"), h("p", { class: "summary", id: "stats-summary" }, "Loading…"));
  const days = Array.from({ length: DAYS }, (_, i) => dayStart(DAYS - 1 - i));
  const [all, catalogue, ...perDay] = await Promise.all([
    call("/v1/stats").then((r) => r.data),
    guidelines(),
    ...days.map((day) => {
      const next = new Date(day.getTime() + 86400000);
      return call(`/v1/stats${query({ since: iso(day), until: iso(next) })}`).then((r) => r.data);
    }),
  ]);
  if (!state || state.root !== root) return;
  const q = all.queue;
  const d = all.decisions;
  const t = all.time_to_decision;
  root.querySelector("#stats-summary").textContent =
    `All time, as of ${all.generated_at.slice(0, 19).replace("T", " ")} UTC; days are UTC.`;
  const fig = (label, value, id) => h("div", { class: "figure", dataset: { figure: id } },
    h("span", {}, label), h("b", {}, value));
  root.append(h("div", { class: "figures" },
    fig("Pending now", String(q.depth), "depth"),
    fig("Oldest pending", q.oldest_age_seconds == null ? "–" : duration(q.oldest_age_seconds), "oldest"),
    fig("Decisions", String(d.total), "decisions"),
    fig("Approved / rejected", `${d.approved} / ${d.rejected}`, "split"),
    fig("Reversals", String(d.reversals), "reversals"),
    fig("Time to decision p50 / p95", `${duration(t.median_seconds)} / ${duration(t.p95_seconds)}`, "ttd")));

  const labels = days.map((day) => day.toISOString().slice(5, 10));
  const perReason = Object.entries(all.decisions_per_reason).sort((a, b) => b[1] - a[1]);
  const title = (code) => catalogue.byCode.get(code)?.title || humanCode(code);
  const moderators = Object.entries(all.decisions_per_moderator).sort((a, b) => b[1].total - a[1].total);
  root.append(h("div", { class: "charts" },
    figure("Decisions per day",
      bars(days.map((day, i) => ({ label: labels[i], parts: [
        { value: perDay[i].decisions.approved, series: "approved" },
        { value: perDay[i].decisions.rejected, series: "rejected" }] })),
      { label: "Decisions per day, approved and rejected", series: ["approved", "rejected"] }),
      table(["Day", "Approved", "Rejected", "Reversals"], days.map((_, i) =>
        [labels[i], perDay[i].decisions.approved, perDay[i].decisions.rejected,
          perDay[i].decisions.reversals]))),
    figure("Time to decision per day",
      lines(days.map((_, i) => ({ label: labels[i], values: {
        p50: perDay[i].time_to_decision.median_seconds,
        p95: perDay[i].time_to_decision.p95_seconds } })),
      { label: "Time to decision per day, median and 95th percentile", series: ["p50", "p95"],
        format: duration }),
      table(["Day", "Decisions", "p50", "p95"], days.map((_, i) => [labels[i],
        perDay[i].time_to_decision.count, duration(perDay[i].time_to_decision.median_seconds),
        duration(perDay[i].time_to_decision.p95_seconds)]))),
    figure("Rejections per reason",
      bars(perReason.map(([code, n]) => ({ label: title(code), parts: [{ value: n, series: "rejected" }] })),
        { label: "Rejections per guideline reason" }),
      table(["Reason", "Rejections"], perReason.map(([code, n]) => [title(code), n]))),
    figure("Decisions per moderator",
      bars(moderators.map(([name, c]) => ({ label: name,
        parts: [{ value: c.approved, series: "approved" }, { value: c.rejected, series: "rejected" }] })),
      { label: "Decisions per moderator, approved and rejected", series: ["approved", "rejected"] }),
      table(["Moderator", "Approved", "Rejected", "Reversals"], moderators.map(([name, c]) =>
        [name, c.approved, c.rejected, c.reversals])))));
}

export function unmount() { state = null; }
