// Renders the OpenAPI document next to this page (openapi.json) as a list of operations.
// Self-written and dependency-free so the portal needs no CDN; all text goes through textContent (no HTML injection).
"use strict";

const METHODS = ["get", "head", "post", "put", "patch", "delete", "options", "trace"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Backtick spans in descriptions become <code>; everything else stays plain text.
function prose(text) {
  const p = el("p");
  String(text || "").split("`").forEach((piece, i) => p.append(i % 2 ? el("code", {}, piece) : piece));
  return p;
}

function securityText(op, doc) {
  const reqs = op.security === undefined ? doc.security || [] : op.security;
  if (!reqs.length) return "Public: no credentials needed.";
  const schemes = (doc.components || {}).securitySchemes || {};
  return reqs.map((req) => Object.entries(req).map(([name, scopes]) => {
    const s = schemes[name] || {};
    const how = s.type === "http" ? "Bearer JWT" : s.type === "apiKey" ? `API key in header ${s.name}` : name;
    return scopes.length ? `${how} with scopes ${scopes.join(", ")}` : how;
  }).join(" and ")).join(", or ");
}

function operation(path, method, op, doc) {
  const badges = [];
  if (op.deprecated) badges.push(el("span", { class: "badge warn" }, "deprecated"));
  const secured = (op.security || []).length > 0;
  badges.push(el("span", { class: "badge" }, secured ? "auth" : "public"));
  const body = el("div", { class: "body" }, prose(op.description), el("p", {}, securityText(op, doc)));
  const params = op.parameters || [];
  if (params.length) {
    const rows = params.map((p) => el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
      el("td", {}, p.required ? "required" : "optional"), el("td", {}, p.description || "")));
    body.append(el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, ""),
      el("th", {}, "")), ...rows));
  }
  const codes = Object.entries(op.responses || {}).map(([code, r]) => el("tr", {}, el("td", {}, code),
    el("td", {}, r.description || "")));
  body.append(el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning")), ...codes));
  if (op.externalDocs) body.append(el("p", {}, el("a", { href: op.externalDocs.url }, op.externalDocs.description)));
  const routes = (op["x-portico-routes"] || []).join(" ");
  const node = el("details", { class: "op" + (op.deprecated ? " deprecated" : ""), "data-route": routes,
    "data-search": `${method} ${path} ${routes}`.toLowerCase() },
    el("summary", {}, el("span", { class: `method ${method}` }, method.toUpperCase()),
      el("span", { class: "path" }, path), el("span", { class: "note" }, routes), ...badges),
    body);
  return node;
}

function render(doc) {
  document.title = `${doc.info.title} reference`;
  document.getElementById("title").textContent = doc.info.title;
  document.getElementById("meta").textContent = `OpenAPI ${doc.openapi} · config version ${doc.info.version}`;
  const main = document.getElementById("operations");
  main.replaceChildren();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      if (item[method]) main.append(operation(path, method, item[method], doc));
    }
  }
  for (const r of doc["x-portico-regex-routes"] || []) {
    const op = { description: `Route \`${r.route}\` matches the regular expression \`${r.pathRegex}\`.`,
      "x-portico-routes": [r.route], responses: {} };
    for (const m of r.methods) main.append(operation(`~ ${r.pathRegex}`, m.toLowerCase(), op, doc));
  }
  if (!main.children.length) main.append(el("p", { class: "note" }, "No routes are configured."));
  document.body.setAttribute("data-rendered", String(main.querySelectorAll(".op").length));
}

function applyFilter() {
  const q = document.getElementById("filter").value.trim().toLowerCase();
  for (const node of document.querySelectorAll(".op")) node.hidden = q !== "" && !node.dataset.search.includes(q);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("filter").addEventListener("input", applyFilter);
  fetch("openapi.json", { headers: { accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then(render)
    .catch((err) => {
      const main = document.getElementById("operations");
      main.replaceChildren(el("p", { class: "note" }, `Could not load openapi.json: ${err.message}`));
    });
});
