// The live alert feed: follows /api/alerts/stream (EventSource: the session cookie signs it
// in, and it reconnects with Last-Event-ID by itself), puts each new alert's card on top,
// and sends acknowledge / confirm / dismiss to the API, saying what the API says.
"use strict";

(() => {
  const list = document.getElementById("alerts");
  if (!list) return;
  const filter = { camera: list.dataset.camera || "", status: list.dataset.status || "" };
  const liveState = document.getElementById("live-state");

  function setLive(state, words) {
    if (!liveState) return;
    liveState.dataset.state = state;
    liveState.textContent = words;
    liveState.classList.toggle("live", state === "open");
    liveState.classList.toggle("reconnecting", state !== "open");
  }

  // The card of one alert, rendered by the server (the same markup as the page's own).
  async function fetchCard(id) {
    const response = await fetch(`/console/alerts/${encodeURIComponent(id)}/card`, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (response.redirected && new URL(response.url).pathname === "/login") {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      throw new Error("signed out");
    }
    if (!response.ok) throw new Error(`alert ${id}: ${response.status} ${response.statusText}`);
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    return template.content.querySelector("article.alert-card");
  }

  function cardOf(id) {
    return list.querySelector(`article.alert-card[data-alert-id="${CSS.escape(String(id))}"]`);
  }

  function showEmpty() {
    const empty = list.querySelector(".empty");
    if (empty) empty.hidden = list.querySelector("article.alert-card") !== null;
  }

  async function arrived(message) {
    if (filter.camera && message.camera !== filter.camera) return;
    if (filter.status && filter.status !== "new") return; // a new alert is `new`
    if (cardOf(message.id)) return; // already shown (replayed after a reconnect)
    const card = await fetchCard(message.id);
    if (!card || cardOf(message.id)) return;
    card.classList.add("new", "fresh");
    card.dataset.arrived = "live";
    // newest first: before the first card with a lower id
    const later = [...list.querySelectorAll("article.alert-card")].find((c) => Number(c.dataset.alertId) < message.id);
    list.insertBefore(card, later || list.querySelector(".empty"));
    showEmpty();
  }

  async function refresh(id) {
    const old = cardOf(id);
    const card = await fetchCard(id);
    if (old && card) old.replaceWith(card);
  }

  if (list.dataset.live === "yes" && "EventSource" in window) {
    const source = new EventSource("/api/alerts/stream");
    source.addEventListener("open", () => setLive("open", "live"));
    source.addEventListener("error", () => {
      setLive(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting",
        source.readyState === EventSource.CLOSED ? "disconnected: reload the page" : "reconnecting…");
    });
    source.addEventListener("alert", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      arrived(message).catch((error) => citywatch.notice(error.message, true));
    });
    window.addEventListener("pagehide", () => source.close());
  }

  const verbs = { acknowledge: "Acknowledged", confirm: "Confirmed" };

  async function act(card, action, body) {
    const id = card.dataset.alertId;
    const buttons = card.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const review = await citywatch.api("POST", `/api/alerts/${encodeURIComponent(id)}/${action}`, body);
      let words = action === "dismiss" ? "Dismissed." : `${verbs[action]}.`;
      if (action === "confirm" && review.alert.status !== "confirmed") {
        words = `Confirmation ${review.confirmed_by.length} of ${review.confirmations_needed} recorded: a second person must confirm too.`;
      } else if (action === "confirm") {
        words = `Confirmed by ${review.confirmed_by.join(" and ")}.`;
      } else if (action === "dismiss" && review.not_remembered) {
        words = `Dismissed. The face was not remembered: ${review.not_remembered}`;
      } else if (action === "dismiss" && review.non_match_id) {
        words = "Dismissed as a false match: this face will not alert for this person again.";
      }
      citywatch.notice(words);
      await refresh(id);
    } catch (error) {
      citywatch.notice(error.message, true);
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const card = button.closest("article.alert-card");
    const action = button.dataset.action;
    const form = card.querySelector("form.dismiss-form");
    if (action === "dismiss") {
      form.hidden = false;
      form.querySelector("select").focus();
    } else if (action === "cancel") {
      form.hidden = true;
    } else {
      act(card, action);
    }
  });

  list.addEventListener("submit", (event) => {
    const form = event.target.closest("form.dismiss-form");
    if (!form) return;
    event.preventDefault();
    const kind = form.elements.reason_kind.value;
    const reason = form.elements.reason.value.trim();
    const said = kind === "not_actionable" ? ["not enough to act on", reason].filter(Boolean).join(": ") : reason;
    if (kind === "other" && !said) {
      citywatch.notice("Say why you dismiss it.", true);
      form.elements.reason.focus();
      return;
    }
    act(form.closest("article.alert-card"), "dismiss", { reason: said, false_match: kind === "false_match" });
  });
})();
