// Renders the OpenAPI document next to this page (openapi.json) as a list of operations.
// Self-written and dependency-free so the portal needs no CDN; all text goes through textContent (no HTML injection).
"use strict";

const METHODS = ["get", "head", "post", "put", "patch", "delete", "options", "trace"];
const WITH_BODY = new Set(["post", "put", "patch"]);

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

// Shared with account.js: the element builder, and the key a signed-in consumer just created, which "Try it" uses
// (memory only, never stored).
window.porticoPortal = { el, apiKey: "" };

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

function credentialOf(op, doc) {
  const schemes = (doc.components || {}).securitySchemes || {};
  for (const req of op.security || []) {
    for (const name of Object.keys(req)) {
      const s = schemes[name] || {};
      if (s.type === "apiKey") return { kind: "apiKey", header: s.name };
      if (s.type === "http") return { kind: "bearer", header: "authorization" };
    }
  }
  return null;
}

function samples(path, method, op, doc) {
  const cred = credentialOf(op, doc);
  const url = location.origin + path;
  const verb = method.toUpperCase();
  const head = cred ? (cred.kind === "apiKey" ? [cred.header, "$API_KEY"] : ["authorization", "Bearer $TOKEN"]) : null;
  const body = WITH_BODY.has(method);
  const curl = ["curl -i" + (verb === "GET" ? "" : ` -X ${verb}`) + ` '${url}'`];
  if (head) curl.push(`  -H '${head[0]}: ${head[1]}'`);
  if (body) curl.push("  -H 'content-type: application/json' -d '{}'");
  const pyHeaders = head ? `{"${head[0]}": os.environ["${head[1].replace(/^Bearer /, "").slice(1)}"]}` : "{}";
  const python = [
    "import os, requests",
    `r = requests.request("${verb}", "${url}",`,
    `                     headers=${pyHeaders}${body ? ", json={}" : ""})`,
    "print(r.status_code, r.headers.get(\"ratelimit\"), r.text)",
  ];
  const jsHeaders = head ? `{ "${head[0]}": ${head[1].startsWith("Bearer") ? "`Bearer ${TOKEN}`" : "API_KEY"} }` : "{}";
  const js = [
    `const r = await fetch("${url}", {`,
    `  method: "${verb}", headers: ${jsHeaders}${body ? ", body: JSON.stringify({})" : ""},`,
    "});",
    "console.log(r.status, r.headers.get(\"ratelimit\"), await r.text());",
  ];
  const box = el("div", { class: "samples" }, el("h4", {}, "Code samples"));
  for (const [name, lines] of [["curl", curl.join(" \\\n")], ["Python (requests)", python.join("\n")],
    ["JavaScript (fetch)", js.join("\n")]]) {
    box.append(el("details", { class: "sample" }, el("summary", {}, name), el("pre", {}, lines)));
  }
  return box;
}

function tryIt(path, method, op, doc) {
  const cred = credentialOf(op, doc);
  const form = el("form", { class: "try", "data-path": path, "data-method": method });
  form.append(el("h4", {}, "Try it"));
  for (const p of op.parameters || []) {
    if (p.in !== "path") continue;
    form.append(el("label", {}, `${p.name} `, el("input", { name: `path:${p.name}`, required: "", size: "18" })));
  }
  form.append(el("label", {}, "query ", el("input", { name: "query", placeholder: "a=1&b=2", size: "24" })));
  if (cred) {
    const hint = cred.kind === "apiKey" ? `API key (${cred.header}); empty: your new key` : "Bearer token";
    form.append(el("label", {}, `${hint} `, el("input", { name: "credential", type: "password", size: "30",
      autocomplete: "off" })));
  }
  if (WITH_BODY.has(method)) form.append(el("label", { class: "wide" }, "JSON body ",
    el("textarea", { name: "body", rows: "3", cols: "60" }, "{}")));
  form.append(el("button", { type: "submit", class: "send" }, "Send"));
  const out = el("pre", { class: "result", hidden: "" });
  form.append(out);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form, path, method, cred, out);
  });
  return form;
}

function send(form, path, method, cred, out) {
  const data = new FormData(form);
  let url = path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name) => encodeURIComponent(data.get(`path:${name}`) || ""));
  const query = String(data.get("query") || "").trim();
  if (query) url += "?" + query.replace(/^\?/, "");
  const headers = {};
  if (cred) {
    const typed = String(data.get("credential") || "");
    const value = typed || (cred.kind === "apiKey" ? window.porticoPortal.apiKey : "");
    if (value) headers[cred.header] = cred.kind === "apiKey" ? value : `Bearer ${value}`;
  }
  const init = { method: method.toUpperCase(), headers, credentials: "omit", redirect: "manual", cache: "no-store" };
  if (WITH_BODY.has(method)) {
    headers["content-type"] = "application/json";
    init.body = String(data.get("body") || "");
  }
  out.hidden = false;
  out.textContent = "…";
  // same origin only: the URL is a path on this host, and the page's CSP (connect-src 'self') enforces it
  fetch(url, init).then(async (r) => {
    const lines = [`HTTP ${r.status} ${r.statusText}`];
    r.headers.forEach((value, name) => lines.push(`${name}: ${value}`));
    lines.push("", await r.text());
    out.textContent = lines.join("\n");
    out.dataset.status = String(r.status);
    document.dispatchEvent(new CustomEvent("portico:called"));
  }).catch((err) => { out.textContent = `request failed: ${err.message}`; out.dataset.status = "error"; });
}

function operation(path, method, op, doc) {
  const badges = [];
  if (op.deprecated) badges.push(el("span", { class: "badge warn" }, "deprecated"));
  if (op["x-portico-sunset"]) badges.push(el("span", { class: "badge warn" }, `sunset ${op["x-portico-sunset"]}`));
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
  const reqSchema = (((op.requestBody || {}).content || {})["application/json"] || {}).schema;
  if (reqSchema) body.append(el("h4", {}, "Request body schema"), el("pre", { class: "schema" },
    JSON.stringify(reqSchema, null, 2)));
  for (const [code, r] of Object.entries(op.responses || {})) {
    for (const [media, c] of Object.entries(r.content || {})) {
      if (media.startsWith("application/problem")) continue;
      if (c.schema) body.append(el("h4", {}, `${code} response schema (${media})`),
        el("pre", { class: "schema" }, JSON.stringify(c.schema, null, 2)));
      if (c.example !== undefined) body.append(el("h4", {}, `${code} example (${media})`),
        el("pre", { class: "schema" }, typeof c.example === "string" ? c.example : JSON.stringify(c.example, null, 2)));
    }
  }
  if (!path.startsWith("~")) body.append(samples(path, method, op, doc), tryIt(path, method, op, doc));
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
  const groups = new Map();  // tag (API version or first path segment) -> its operations, in document order
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      const tag = (item[method].tags || [""])[0] || "other";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push(operation(path, method, item[method], doc));
    }
  }
  for (const [tag, ops] of groups) main.append(el("section", { class: "group", "data-tag": tag },
    el("h2", {}, tag), ...ops));
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
