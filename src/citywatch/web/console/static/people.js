// People page: approve or refuse a change waiting for a second person; show a person's
// reference image on request only (each view is written to the audit log by its route).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notice } = citywatch;

  for (const button of document.querySelectorAll("button[data-action=approve]")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api("POST", `/api/changes/${button.dataset.changeId}/approve`);
        notice(`Change ${button.dataset.changeId} approved.`);
        window.location.reload();
      } catch (error) {
        notice(error.message, true);
        button.disabled = false;
      }
    });
  }

  for (const button of document.querySelectorAll("button[data-action=refuse]")) {
    button.addEventListener("click", async () => {
      const reason = window.prompt("Why? (kept with the change and in the audit log)", "");
      if (reason === null) return;
      button.disabled = true;
      try {
        await api("POST", `/api/changes/${button.dataset.changeId}/refuse`, { reason });
        notice(`Change ${button.dataset.changeId} refused.`);
        window.location.reload();
      } catch (error) {
        notice(error.message, true);
        button.disabled = false;
      }
    });
  }

  for (const button of document.querySelectorAll("button[data-action=show-reference]")) {
    button.addEventListener("click", () => {
      const id = button.dataset.personId;
      const image = el("img", {
        class: "face",
        alt: `reference image of person ${id}`,
        src: `/api/persons/${id}/reference`,
        "data-reference-of": id,
      });
      image.addEventListener("error", () => notice(`No reference image for person ${id}.`, true));
      button.replaceWith(image);
    });
  }
});
