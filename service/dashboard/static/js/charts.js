// Charts as plain SVG, each with a title for screen readers and its numbers as a table.

import { h, s } from "./dom.js";

const WIDTH = 460;

export function figure(title, content, table) {
  const id = `chart-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { class: "chart", "aria-labelledby": id, dataset: { chart: id } },
    h("h2", { id }, title), content,
    table ? h("details", {}, h("summary", {}, "As a table"), table) : null);
}

export function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, String(cell)))))));
}

// Horizontal bars; each row may stack several series: rows = [{label, parts: [{value, series}]}]
export function bars(rows, { label, series = [], format = String } = {}) {
  const rowHeight = 26;
  const left = 200;
  const height = Math.max(rows.length, 1) * rowHeight + (series.length ? 28 : 8);
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((sum, p) => sum + p.value, 0)));
  const scale = (WIDTH - left - 60) / max;
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": label },
    s("title", {}, label));
  rows.forEach((row, i) => {
    const y = i * rowHeight + 4;
    const short = row.label.length > 22 ? `${row.label.slice(0, 21)}…` : row.label;
    svg.append(s("text", { x: left - 8, y: y + 15, "text-anchor": "end" }, short,
      s("title", {}, row.label)));
    let x = left;
    for (const part of row.parts) {
      const w = part.value * scale;
      if (w > 0) {
        svg.append(s("rect", { x, y, width: w, height: rowHeight - 8, rx: 2,
          class: `bar bar-${part.series || "default"}` },
          s("title", {}, `${row.label}: ${format(part.value)}${part.series ? ` ${part.series}` : ""}`)));
      }
      x += w;
    }
    const total = row.parts.reduce((sum, p) => sum + p.value, 0);
    svg.append(s("text", { x: x + 6, y: y + 15, class: "muted" }, format(total)));
  });
  legend(svg, series, height - 14);
  return svg;
}

function legend(svg, series, y) {
  let x = 10;
  for (const name of series) {
    svg.append(s("rect", { x, y: y - 9, width: 12, height: 12, class: `bar bar-${name}` }),
      s("text", { x: x + 17, y: y + 1 }, name));
    x += 30 + name.length * 7.5;
  }
}

// Lines over days: points = [{label, values: {series: number|null}}]
export function lines(points, { label, series, format = String }) {
  const height = 240;
  const left = 56;
  const bottom = 48;
  const top = 12;
  const innerW = WIDTH - left - 34;
  const innerH = height - top - bottom;
  const all = points.flatMap((p) => series.map((name) => p.values[name])).filter((v) => v != null);
  const max = Math.max(1e-9, ...all);
  const x = (i) => left + (points.length <= 1 ? innerW / 2 : (i * innerW) / (points.length - 1));
  const y = (v) => top + innerH - (v / max) * innerH;
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": label },
    s("title", {}, label),
    s("line", { x1: left, y1: top + innerH, x2: left + innerW, y2: top + innerH, class: "axis" }),
    s("line", { x1: left, y1: top, x2: left, y2: top + innerH, class: "axis" }),
    s("text", { x: left - 6, y: top + 10, "text-anchor": "end", class: "muted" }, format(max)),
    s("text", { x: left - 6, y: top + innerH, "text-anchor": "end", class: "muted" }, "0"));
  points.forEach((p, i) => {
    if ((points.length - 1 - i) % Math.ceil(points.length / 7) === 0) {  // anchored at today
      svg.append(s("text", { x: x(i), y: height - bottom + 18, "text-anchor": "middle",
        class: "muted" }, p.label));
    }
  });
  for (const name of series) {
    const coords = points.map((p, i) => [p.values[name], i]).filter(([v]) => v != null);
    if (coords.length > 1) {
      svg.append(s("polyline", { class: `line line-${name}`, fill: "none",
        points: coords.map(([v, i]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ") }));
    }
    for (const [v, i] of coords) {
      svg.append(s("circle", { cx: x(i), cy: y(v), r: 4, class: `dot-${name}` },
        s("title", {}, `${points[i].label} ${name}: ${format(v)}`)));
    }
  }
  legend(svg, series, height - 10);
  return svg;
}
