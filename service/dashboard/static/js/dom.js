// Building the page: elements from tags, attributes and children. Text is always a text
// node (never parsed as HTML): nothing in this dashboard assigns innerHTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

let statusTimer = null;

// The live region: screen readers announce it, sighted users see it as a toast.
export function announce(message, kind = "info") {
  const region = document.getElementById("status");
  region.textContent = "";
  region.dataset.kind = kind;
  // a fresh text node a tick later, so the same message twice is announced twice
  setTimeout(() => { region.textContent = message; region.hidden = false; }, 20);
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { region.hidden = true; }, 6000);
}
