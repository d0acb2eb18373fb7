// citywatch console: holds, requests, exports and the audit log. Every change is a call to
// the API's own route (authorised and audited there); the page reloads to show the record.
"use strict";

(() => {
  const { api, notice, formJson } = citywatch;

  function localIso(value) {
    return value ? new Date(value).toISOString() : null;
  }

  // "sighting:12, alert:4" -> [{kind: "sighting", id: 12}, {kind: "alert", id: 4}]
  function parseItems(text) {
    const items = [];
    for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
      const match = /^(sighting|alert|recording)\s*[:#]\s*(\d+)$/.exec(part);
      if (!match) throw new Error(`"${part}" is not an item like sighting:12, alert:4 or recording:7`);
      items.push({ kind: match[1], id: Number(match[2]) });
    }
    return items;
  }

  async function act(button, work, done) {
    button.disabled = true;
    try {
      const result = await work();
      notice(typeof done === "function" ? done(result) : done);
      setTimeout(() => window.location.reload(), 600);
    } catch (error) {
      notice(error.message, true);
      button.disabled = false;
    }
  }

  // --- holds ---------------------------------------------------------------------------------

  function wireHolds() {
    const form = document.querySelector("form[data-hold-form]");
    if (form) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const button = form.querySelector("button[type=submit]");
        act(button, () => {
          const body = formJson(form);
          delete body.items;
          const items = parseItems(form.elements.items.value);
          if (items.length) body.items = items;
          return api("POST", "/api/holds", body);
        }, (hold) => hold.awaiting_change
          ? `Hold ${hold.id} placed; it needs a second person (change ${hold.awaiting_change}) and lapses on its own until then.`
          : `Hold ${hold.id} placed.`);
      });
    }
    for (const extend of document.querySelectorAll("form[data-extend]")) {
      extend.addEventListener("submit", (event) => {
        event.preventDefault();
        const id = extend.dataset.extend;
        const until = localIso(extend.elements.expires_at.value);
        act(extend.querySelector("button"),
          () => api("POST", `/api/holds/${id}/extend`, { expires_at: until }),
          until ? `Hold ${id} extended.` : `Hold ${id} now lasts until released.`);
      });
    }
    for (const button of document.querySelectorAll("button[data-release]")) {
      button.addEventListener("click", () => {
        const id = button.dataset.release;
        const reason = window.prompt(`Why may hold ${id} (${button.dataset.reference}) go? What it alone kept is deleted at the next purge; another person's hold waits for a second person.`);
        if (!reason || !reason.trim()) return;
        act(button, () => api("POST", `/api/holds/${id}/release`, { reason: reason.trim() }),
          (done) => done.status === "pending"
            ? `Hold ${id} stays until a second person approves change ${done.change}.`
            : `Hold ${id} released; receipt ${done.receipt.id}.`);
      });
    }
  }

  // --- requests ------------------------------------------------------------------------------

  function wireRequests() {
    for (const button of document.querySelectorAll("button[data-request-action]")) {
      button.addEventListener("click", () => {
        const id = button.dataset.request;
        const verb = button.dataset.requestAction;
        let body;
        if (verb === "refuse") {
          const reason = window.prompt(`Why is request ${id} refused? (the requester is told)`);
          if (!reason || !reason.trim()) return;
          body = { reason: reason.trim() };
        } else if (verb === "approve" && !window.confirm(`Approve request ${id}? Its export package is produced now.`)) {
          return;
        }
        act(button, () => api("POST", `/api/requests/${id}/${verb}`, body),
          (r) => `Request ${id}: ${r.status.replace("_", " ")}.`);
      });
    }
  }

  // --- exports -------------------------------------------------------------------------------

  function wireExports() {
    for (const button of document.querySelectorAll("button[data-export-verify]")) {
      button.addEventListener("click", async () => {
        const id = button.dataset.exportVerify;
        const out = document.querySelector(`[data-export-verdict="${id}"]`);
        button.disabled = true;
        try {
          const verdict = await api("POST", button.dataset.path);
          out.dataset.ok = String(verdict.ok);
          out.className = "verdict " + (verdict.ok ? "ok" : "bad");
          out.textContent = verdict.ok ? "✓ signature and every file check out"
            : "✗ " + (verdict.problem || verdict.reason || "the package does not verify");
        } catch (error) {
          notice(error.message, true);
        } finally {
          button.disabled = false;
        }
      });
    }
  }

  // --- audit ---------------------------------------------------------------------------------

  function verdictText(v) {
    if (v.ok) {
      const from = v.anchor_seq ? ` from the signed retention anchor at record ${v.anchor_seq}` : "";
      return [`Chain intact: ${v.records} records verified${from}.`, ""];
    }
    const where = v.first_bad_seq ? `Chain BROKEN at record ${v.first_bad_seq}` : "Chain BROKEN";
    return [where + ".", v.reason];
  }

  function wireAudit() {
    const button = document.querySelector("button[data-verify]");
    const out = document.querySelector("[data-verify-result]");
    if (!button || !out) return;
    button.addEventListener("click", async () => {
      button.disabled = true;
      out.hidden = false;
      out.className = "verdict";
      out.textContent = "Verifying…";
      delete out.dataset.ok;
      try {
        const v = await api("POST", "/api/audit/verify");
        const [headline, reason] = verdictText(v);
        out.replaceChildren(citywatch.el("strong", {}, headline), reason ? citywatch.el("div", {}, reason) : "");
        for (const more of (v.problems || []).slice(1)) out.append(citywatch.el("div", {}, "Also: " + more));
        for (const note of v.notes || []) out.append(citywatch.el("div", { class: "muted" }, "Note: " + note));
        if (v.compared && v.compared.length) {
          out.append(
            citywatch.el("div", { class: "muted" }, "Compared:"),
            citywatch.el("ul", { "data-compared": "" }, ...v.compared.map((line) => citywatch.el("li", {}, line))),
          );
        }
        out.className = "verdict " + (v.ok ? "ok" : "bad");
        out.dataset.ok = String(v.ok);
        out.dataset.records = String(v.records);
        if (v.first_bad_seq) out.dataset.firstBadSeq = String(v.first_bad_seq);
        if (v.first_bad_seq) {
          out.append(citywatch.el("a", { href: `/console/audit?before=${v.first_bad_seq + 1}` }, `See record ${v.first_bad_seq}`));
        }
      } catch (error) {
        out.textContent = error.message;
        out.className = "verdict bad";
      } finally {
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    wireHolds();
    wireRequests();
    wireExports();
    wireAudit();
  });
})();
