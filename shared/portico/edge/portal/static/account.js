// The signed-in consumer's panel: sign in/out, plan and usage, and self-service API keys.
// Talks only to /_portico/portal/api/ on this origin. Every write sends the session's CSRF token in X-CSRF-Token.
// A new key is shown once, in a text node, and kept in memory for "Try it"; it is never put in a URL or storage.
"use strict";

(() => {
  const API = "/_portico/portal/api/";
  const state = { csrf: "", usage: null };

  const el = window.porticoPortal.el;  // portal.js runs first (both are deferred, in document order)

  async function call(method, path, body) {
    const init = { method, credentials: "same-origin", cache: "no-store", headers: { accept: "application/json" } };
    if (method !== "GET") {
      init.headers["x-csrf-token"] = state.csrf;
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body || {});
    }
    const r = await fetch(API + path, init);
    const data = await r.json().catch(() => ({}));
    if (!r.ok && r.status !== 401) throw new Error(data.detail || `HTTP ${r.status}`);
    return { status: r.status, data };
  }

  function duration(seconds) {
    const parts = [];
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
      if (seconds >= size || (unit === "s" && !parts.length)) {
        parts.push(`${Math.floor(seconds / size)}${unit}`);
        seconds %= size;
      }
      if (parts.length === 2) break;  // "5h 50m" is precise enough for a reset
    }
    return parts.join(" ");
  }

  function showError(panel, err) {
    panel.querySelector(".error")?.remove();
    panel.prepend(el("p", { class: "error", role: "alert" }, err.message));
  }

  async function loadUsage(box) {
    const { data } = await call("GET", "usage");
    const rows = (data.windows || []).map((w) => el("tr", { "data-limit": w.limit },
      el("td", {}, w.limit), el("td", {}, duration(w.window)), el("td", { class: "used" }, w.used),
      el("td", {}, w.requests), el("td", { class: "remaining" }, w.remaining),
      el("td", {}, `resets in ${duration(w.resetsIn)}`)));
    box.replaceChildren(el("h3", {}, "Usage"), rows.length
      ? el("table", { id: "usage" }, el("tr", {}, ...["limit", "window", "used", "of", "remaining", ""].map(
        (h) => el("th", {}, h))), ...rows)
      : el("p", { class: "note" }, data.note || "Your plan does not count requests per consumer."));
    box.setAttribute("data-loaded", String(Date.now()));
  }

  function keyRow(key, panel) {
    const actions = el("td", {});
    if (key.status === "active") {
      const rotate = el("button", { type: "button", class: "rotate", "data-key": key.id }, "Rotate");
      const revoke = el("button", { type: "button", class: "revoke", "data-key": key.id }, "Revoke");
      rotate.addEventListener("click", () => act(panel, `keys/${encodeURIComponent(key.id)}/rotate`));
      revoke.addEventListener("click", () => act(panel, `keys/${encodeURIComponent(key.id)}/revoke`));
      actions.append(rotate, " ", revoke);
    }
    const made = key.created ? new Date(key.created * 1000).toISOString().replace("T", " ").slice(0, 16) : "";
    return el("tr", { "data-key": key.id, "data-status": key.status }, el("td", {}, el("code", {}, key.id)),
      el("td", {}, key.label || ""), el("td", {}, key.status), el("td", {}, made), actions);
  }

  function showNewKey(panel, made) {
    window.porticoPortal.apiKey = made.key;  // "Try it" uses it when its key field is empty
    panel.querySelector(".new-key")?.remove();
    panel.querySelector(".keys").after(el("div", { class: "new-key" },
      el("p", {}, `Your new key ${made.id}, shown only now. Copy it and keep it safe:`),
      el("code", { id: "new-key-value" }, made.key)));
  }

  async function act(panel, path, body) {
    try {
      const { data } = await call("POST", path, body);
      await render(panel);
      if (data.key) showNewKey(panel, data);
    } catch (err) {
      showError(panel, err);
    }
  }

  async function render(panel) {
    const { status, data } = await call("GET", "me");
    const session = document.getElementById("session");
    if (status === 401) {
      session.replaceChildren(el("a", { id: "sign-in", href: data.signIn }, "Sign in to get an API key"));
      return;
    }
    state.csrf = data.csrf;
    const signOut = el("button", { type: "button", id: "sign-out" }, "Sign out");
    signOut.addEventListener("click", async () => {
      await fetch("/_portico/portal/logout", { method: "POST", credentials: "same-origin",
        headers: { "x-csrf-token": state.csrf } });
      window.porticoPortal.apiKey = "";
      location.reload();
    });
    session.replaceChildren(el("span", { id: "who" }, `Signed in as ${data.consumer}`), " ", signOut);
    panel.hidden = false;
    const pending = data.status !== "active";
    const label = el("input", { id: "key-label", name: "label", maxlength: "64", placeholder: "name, e.g. laptop" });
    const create = el("button", { type: "submit", id: "create-key" }, "Create key");
    const form = el("form", { class: "create" }, label, " ", create);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(panel, "keys", { label: label.value });
    });
    const keys = el("table", { class: "keys" }, el("tr", {}, ...["key", "name", "status", "created", ""].map(
      (h) => el("th", {}, h))), ...data.keys.map((k) => keyRow(k, panel)));
    const usage = el("div", { class: "usage" });
    panel.replaceChildren(
      el("h2", {}, "Your account"),
      el("p", { id: "plan" }, `Plan: ${data.plan || "none"}: ${data.planText}`),
      pending ? el("p", { class: "badge warn", id: "pending" }, "Waiting for an operator's approval.") : form,
      keys, usage);
    state.usage = pending ? null : usage;
    if (!pending) await loadUsage(usage).catch((err) => showError(panel, err));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const panel = document.getElementById("account");
    // a call from "Try it" spends quota: show the counters as the edge now has them
    document.addEventListener("portico:called", () => {
      if (state.usage) loadUsage(state.usage).catch(() => {});
    });
    render(panel).catch(() => {});  // no Portal document (404): the page stays the plain reference
  });
})();
