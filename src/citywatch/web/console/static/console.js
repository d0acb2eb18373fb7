// citywatch console: the little JavaScript every page shares. Pages call the API's own
// routes with the session cookie (same origin) and say what happened.
"use strict";

const citywatch = (() => {
  function notice(text, isError = false) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.classList.toggle("error", isError);
    box.hidden = false;
    clearTimeout(notice.timer);
    notice.timer = setTimeout(() => { box.hidden = true; }, isError ? 8000 : 4000);
  }

  // A JSON API call; resolves to the parsed body, or rejects with the API's own error words.
  async function api(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      throw new Error("signed out");
    }
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : null;
    if (!response.ok) {
      throw new Error((parsed && parsed.detail) || response.status + " " + response.statusText);
    }
    return parsed;
  }

  // Element builder: el("td", {class: "x"}, "text", child)
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso.endsWith("Z") || iso.includes("+") ? iso : iso + "Z");
    return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  // Forms marked data-api="POST /api/..." submit as JSON (or multipart when they carry files).
  function wireForms(root = document) {
    for (const form of root.querySelectorAll("form[data-api]")) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const [method, path] = form.dataset.api.split(" ");
        const button = form.querySelector("button[type=submit]");
        if (button) button.disabled = true;
        try {
          const body = form.enctype === "multipart/form-data" ? new FormData(form) : formJson(form);
          const result = await api(method, path, body);
          form.dispatchEvent(new CustomEvent("citywatch:done", { detail: result }));
          notice(form.dataset.done || "Done.");
          if (form.dataset.reload !== undefined) window.location.reload();
        } catch (error) {
          notice(error.message, true);
        } finally {
          if (button) button.disabled = false;
        }
      });
    }
  }

  // Form fields to JSON: data-type="number|list|bool|json" on inputs; empty optional fields are left out.
  function formJson(form) {
    const out = {};
    for (const field of form.elements) {
      if (!field.name || field.disabled) continue;
      if ((field.type === "checkbox")) { out[field.name] = field.checked; continue; }
      const value = field.value.trim();
      if (value === "") continue;
      const type = field.dataset.type;
      if (type === "number") out[field.name] = Number(value);
      else if (type === "list") out[field.name] = value.split(",").map((s) => s.trim()).filter(Boolean);
      else if (type === "json") out[field.name] = JSON.parse(value);
      else if (type === "datetime") out[field.name] = new Date(value).toISOString();
      else out[field.name] = value;
    }
    return out;
  }

  document.addEventListener("DOMContentLoaded", () => wireForms());
  return { api, el, notice, when, wireForms, formJson };
})();
