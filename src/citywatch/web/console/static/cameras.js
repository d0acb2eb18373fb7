// The cameras page: a snapshot is fetched only when shown or asked for (each view is
// audited), and a snapshot that cannot be shown says why in the API's words.
"use strict";

(() => {
  async function explain(img) {
    const note = document.querySelector(`.snapshot-note[data-for="${CSS.escape(img.dataset.snapshot)}"]`);
    img.hidden = true;
    try {
      const response = await fetch(img.src, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => null);
      if (note) note.textContent = (body && body.detail) || `no snapshot (${response.status})`;
    } catch (error) {
      if (note) note.textContent = error.message;
    }
    img.closest("figure").dataset.error = "yes";
  }

  for (const img of document.querySelectorAll("img[data-snapshot]")) {
    img.addEventListener("error", () => explain(img));
    img.addEventListener("load", () => { img.hidden = false; delete img.closest("figure").dataset.error; });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[name=refresh-snapshot]");
    if (!button) return;
    const img = document.querySelector(`img[data-snapshot="${CSS.escape(button.dataset.cameraId)}"]`);
    if (!img) return;
    const url = new URL(img.src, window.location.href);
    url.searchParams.set("t", String(Date.now()));
    img.src = url.pathname + url.search;
  });
})();
