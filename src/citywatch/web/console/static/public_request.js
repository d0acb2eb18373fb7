// citywatch: the public subject-access form. No session: it posts multipart to the public
// API route (same origin) and says what the answer means, in words.
"use strict";

(() => {
  function show(node, text) {
    node.textContent = text;
    node.hidden = !text;
  }

  function problem(form) {
    const f = form.elements;
    if (!f.requester.value.trim()) return "Please give your name.";
    if (!f.contact.value.trim()) return "Please say how we can reach you with the answer.";
    if (!form.querySelector("input[name=cameras]:checked")) return "Please tick at least one camera.";
    if (!f.starts_at.value || !f.ends_at.value) return "Please give the time window: from and until.";
    if (new Date(f.ends_at.value) <= new Date(f.starts_at.value)) return "The window must end after it starts.";
    const photo = f.photo.files[0];
    if (!photo) return "Please choose a photo of yourself.";
    const max = Number(form.dataset.photoMaxMb) * 1e6;
    if (photo.size > max) return `That photo is ${(photo.size / 1e6).toFixed(1)} MB; the limit is ${form.dataset.photoMaxMb} MB. Please send a smaller one.`;
    return "";
  }

  function body(form) {
    const f = form.elements;
    const data = new FormData();
    data.append("requester", f.requester.value.trim());
    data.append("contact", f.contact.value.trim());
    for (const box of form.querySelectorAll("input[name=cameras]:checked")) data.append("cameras", box.value);
    data.append("starts_at", new Date(f.starts_at.value).toISOString());
    data.append("ends_at", new Date(f.ends_at.value).toISOString());
    data.append("photo", f.photo.files[0]);
    return data;
  }

  // The API's answer to a refused request, in words a member of the public can act on.
  function words(status, detail, form) {
    switch (status) {
      case 413: return `The photo is too large: the limit is ${form.dataset.photoMaxMb} MB. Please send a smaller one.`;
      case 415: return "The form could not be sent as an upload. Please reload the page and try again.";
      case 422: return `The request could not be filed: ${detail || "some of the details are not valid"}. Please correct it and send it again.`;
      case 429: return `Too many requests have come from your address (the limit is ${form.dataset.perHour} an hour). Please try again in an hour.`;
      case 503: return "The service is busy with other requests right now. Please send it again in a minute.";
      case 404: return `The request could not be filed: ${detail || "something it names does not exist"}.`;
      default: return `The request could not be filed (${status}${detail ? ": " + detail : ""}). Please try again later.`;
    }
  }

  function detailOf(parsed) {
    if (!parsed) return "";
    if (Array.isArray(parsed.errors) && parsed.errors.length) {
      return parsed.errors.map((e) => {
        const where = (e.loc || []).filter((p) => p !== "body").join(" ");
        return where ? `${where}: ${e.msg}` : e.msg;
      }).join("; ");
    }
    return parsed.detail || "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("form[data-public-request]");
    const error = document.querySelector("[data-request-error]");
    const result = document.querySelector("[data-request-result]");
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const wrong = problem(form);
      show(error, wrong);
      if (wrong) return;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      button.textContent = "Sending… (searching can take a minute)";
      try {
        const response = await fetch("/api/public/requests", {
          method: "POST", body: body(form), headers: { Accept: "application/json" }, credentials: "omit",
        });
        const text = await response.text();
        let parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
        if (!response.ok) {
          error.dataset.status = String(response.status);
          show(error, words(response.status, detailOf(parsed), form));
          return;
        }
        result.querySelector("[data-reference]").textContent = parsed.reference;
        result.querySelector("[data-deadline]").textContent = citywatch.when(parsed.deadline);
        result.dataset.reference = parsed.reference;
        form.hidden = true;
        result.hidden = false;
        result.scrollIntoView({ block: "start" });
      } catch (failure) {
        show(error, "The request could not be sent: the network failed. Please try again.");
      } finally {
        button.disabled = false;
        button.textContent = "Send request";
      }
    });
  });
})();
