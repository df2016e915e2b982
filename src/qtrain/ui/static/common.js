"use strict";
// Helpers shared by the pages: fetch JSON, build elements without innerHTML, format values.
const qt = {
  async json(url, options) {
    const response = await fetch(url, Object.assign({credentials: "same-origin"}, options || {}));
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  },
  post(url, payload) {
    return qt.json(url, {method: "POST", headers: {"content-type": "application/json"},
                         body: JSON.stringify(payload || {})});
  },
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  },
  num(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    return Number(value).toPrecision(digits || 4);
  },
  time(ts) {
    return ts ? new Date(ts * 1000).toLocaleString() : "–";
  },
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds), m = Math.floor(s / 60);
    return m ? `${m} min ${s % 60} s` : `${s} s`;
  },
  params(params) {
    return Object.entries(params || {}).map(([k, v]) => `${k.split(".").pop()}=${v}`).join(" ");
  },
};
