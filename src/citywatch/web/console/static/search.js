// Case search page: post the case, window, cameras and photo to POST /api/search (multipart);
// draw the ranked sightings on a timeline of the window (one mark per sighting, a lane per
// camera) and in a table; a chosen sighting shows its crop and, on request, its clip. Crops
// and clips are read through their own audited routes.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, el, notice, when } = citywatch;
  const form = document.querySelector("form[data-case-search]");
  if (!form) return;
  const results = document.getElementById("search-results");
  const timeline = results.querySelector("[data-timeline]");
  const tbody = results.querySelector("table[data-table=hits] tbody");
  const detail = results.querySelector("[data-hit-detail]");
  const video = detail.querySelector("video[data-clip]");
  const padMs = Number(form.dataset.clipPadS || 5) * 1000;
  const SVG = "http://www.w3.org/2000/svg";
  let hits = [];
  let window_ = null;
  let searched = null; // the case and authorisation the shown results were found under

  // --- the case: its cameras and legal basis follow the authorisation ---------------------
  function chooseCase() {
    const option = form.elements.authorisation.selectedOptions[0];
    if (!option) return;
    const allowed = new Set(option.dataset.cameras.split(",").filter(Boolean));
    for (const choice of form.querySelectorAll("[data-camera-choice]")) {
      const box = choice.querySelector("input");
      const named = allowed.has(box.value);
      choice.hidden = !named;
      box.disabled = !named;
      box.checked = named;
    }
    form.elements.legal_basis.value = option.dataset.legalBasis;
  }
  form.elements.authorisation.addEventListener("change", chooseCase);
  chooseCase();

  // datetime-local values are read as UTC, as the console shows every time
  function utc(value) {
    if (!value) return null;
    const withSeconds = value.length === 16 ? value + ":00" : value;
    return new Date(withSeconds + "Z");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const since = utc(form.elements.since.value);
    const until = utc(form.elements.until.value) || new Date();
    const body = new FormData();
    for (const name of ["case", "legal_basis", "authorisation", "threshold", "limit"]) {
      const value = form.elements[name].value.trim();
      if (value) body.append(name, value);
    }
    for (const box of form.querySelectorAll("input[name=cameras]:checked:not(:disabled)")) {
      body.append("cameras", box.value);
    }
    if (since) body.append("since", since.toISOString());
    body.append("until", until.toISOString());
    const photo = form.elements.photo.files[0];
    if (photo) body.append("photo", photo, photo.name);
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const result = await api("POST", "/api/search", body);
      window_ = { since: since || until, until };
      show(result);
    } catch (error) {
      notice(error.message, true);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  // --- results ------------------------------------------------------------------------------
  function show(result) {
    hits = result.items;
    searched = { case: result.case, authorisation: result.authorisation };
    results.hidden = false;
    results.dataset.resultCount = String(hits.length);
    results.querySelector("[data-result-summary]").textContent =
      `${hits.length} in case ${result.case} under ${result.authorisation}, ` +
      `${when(window_.since.toISOString())} → ${when(window_.until.toISOString())}`;
    detail.hidden = true;
    stopClip();
    drawTimeline();
    drawTable();
    if (hits.length) select(hits[0].sighting_id);
    else notice("No stored sighting of that face in the window.");
  }

  function drawTable() {
    tbody.replaceChildren(
      ...hits.map((hit) => {
        const row = el(
          "tr",
          { "data-sighting-id": hit.sighting_id, "data-rank": hit.rank, "data-camera": hit.camera_id, tabindex: 0 },
          el("td", {}, hit.rank),
          el("td", {}, el("img", { class: "face small", src: hit.crop_url, alt: `face crop of sighting ${hit.sighting_id}`, loading: "lazy" })),
          el("td", { "data-distance": hit.distance.toFixed(4) }, hit.distance.toFixed(3)),
          el("td", {}, hit.camera_id),
          el("td", {}, when(hit.started_at), el("br"), el("small", { class: "muted" }, `${seconds(hit)} s`)),
          el("td", {}, hit.quality.toFixed(2)),
          el("td", {}, el("button", { type: "button", class: "secondary", "data-action": "open-clip", "data-sighting-id": hit.sighting_id }, "Clip")),
        );
        row.addEventListener("click", (event) => {
          select(hit.sighting_id);
          if (event.target.closest("button[data-action=open-clip]")) openClip();
        });
        row.addEventListener("keydown", (event) => { if (event.key === "Enter") select(hit.sighting_id); });
        return row;
      }),
    );
  }

  function seconds(hit) {
    return ((Date.parse(hit.ended_at) - Date.parse(hit.started_at)) / 1000).toFixed(1);
  }

  function drawTimeline() {
    const cameras = [...new Set(hits.map((h) => h.camera_id))].sort();
    const lane = 34;
    const left = 110;
    const right = 20;
    const width = 1000;
    const height = 30 + Math.max(cameras.length, 1) * lane;
    const t0 = window_.since.getTime();
    const t1 = Math.max(window_.until.getTime(), t0 + 1000);
    const x = (t) => left + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * (width - left - right);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("class", "timeline-svg");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `timeline of ${hits.length} sightings`);
    const add = (parent, tag, attrs, text) => {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      parent.append(node);
      return node;
    };
    // axis and ticks
    const axisY = height - 22;
    add(svg, "line", { x1: left, y1: axisY, x2: width - right, y2: axisY, stroke: "#8a94a0" });
    for (let i = 0; i <= 5; i++) {
      const t = t0 + ((t1 - t0) * i) / 5;
      const tx = x(t);
      add(svg, "line", { x1: tx, y1: 4, x2: tx, y2: axisY + 4, stroke: "#e1e5ea" });
      const label = new Date(t).toISOString().replace("T", " ").slice(5, 19);
      add(svg, "text", { x: tx, y: height - 6, "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle", "font-size": 11, fill: "#5b6470" }, label);
    }
    cameras.forEach((camera, i) => {
      const y = 8 + i * lane + lane / 2;
      add(svg, "text", { x: 4, y: y + 4, "font-size": 12, fill: "#1b1f24" }, camera);
      add(svg, "line", { x1: left, y1: y, x2: width - right, y2: y, stroke: "#eef1f4", "stroke-width": 10 });
    });
    const worst = Math.max(...hits.map((h) => h.distance), 0.001);
    for (const hit of [...hits].reverse()) { // the nearest drawn last, on top
      const y = 8 + cameras.indexOf(hit.camera_id) * lane + lane / 2;
      const xs = x(Date.parse(hit.started_at));
      const xe = Math.max(x(Date.parse(hit.ended_at)), xs + 3);
      const strength = 1 - 0.6 * (hit.distance / worst); // nearer: darker
      const mark = add(svg, "g", { class: "mark", "data-sighting-id": hit.sighting_id, "data-rank": hit.rank, tabindex: 0, role: "button" });
      add(mark, "title", {}, `#${hit.rank} · sighting ${hit.sighting_id} · ${hit.camera_id} · ${when(hit.started_at)} · distance ${hit.distance.toFixed(3)}`);
      add(mark, "rect", { x: xs, y: y - 6, width: xe - xs, height: 12, rx: 2, fill: "#0b5cad", "fill-opacity": strength.toFixed(2) });
      add(mark, "circle", { cx: xs, cy: y, r: 7, fill: "#0b5cad", "fill-opacity": strength.toFixed(2), stroke: "#fff", "stroke-width": 1.5 });
      if (hit.rank <= 9) add(mark, "text", { x: xs, y: y + 4, "text-anchor": "middle", "font-size": 9, fill: "#fff" }, hit.rank);
      mark.addEventListener("click", () => select(hit.sighting_id));
      mark.addEventListener("keydown", (event) => { if (event.key === "Enter") select(hit.sighting_id); });
    }
    timeline.replaceChildren(svg);
  }

  // --- one sighting: its crop, and its clip on request --------------------------------------
  function select(id) {
    const hit = hits.find((h) => h.sighting_id === id);
    if (!hit) return;
    for (const node of results.querySelectorAll("tr[data-sighting-id], g.mark")) {
      node.classList.toggle("selected", Number(node.dataset.sightingId) === id);
    }
    detail.hidden = false;
    detail.dataset.sightingId = id;
    detail.querySelector("[data-detail-id]").textContent = `${id} (rank ${hit.rank})`;
    detail.querySelector("[data-detail-facts]").textContent =
      `${hit.camera_id} · ${when(hit.started_at)} → ${when(hit.ended_at)} · distance ${hit.distance.toFixed(3)} · quality ${hit.quality.toFixed(2)}`;
    const crop = detail.querySelector("img[data-detail-crop]");
    crop.src = hit.crop_url;
    stopClip();
  }

  function stopClip() {
    video.pause();
    if (video.src.startsWith("blob:")) URL.revokeObjectURL(video.src);
    video.removeAttribute("src");
    video.hidden = true;
    delete video.dataset.sightingId;
    delete video.dataset.clipUrl;
    detail.querySelector("[data-clip-note]").hidden = true;
  }

  // The clip is fetched once (one audited read) and played from memory, so that a refusal or
  // footage no longer kept is told in the API's own words rather than a silent player.
  async function openClip() {
    const id = Number(detail.dataset.sightingId);
    const hit = hits.find((h) => h.sighting_id === id);
    if (!hit) return;
    stopClip();
    const since = new Date(Date.parse(hit.started_at) - padMs).toISOString();
    const until = new Date(Date.parse(hit.ended_at) + padMs).toISOString();
    // the clip's audit record carries the case (and authorisation) it was opened for
    const url = `/api/recordings/clip?camera=${encodeURIComponent(hit.camera_id)}` +
      `&since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}` +
      `&case=${encodeURIComponent(searched.case)}&authorisation=${encodeURIComponent(searched.authorisation)}`;
    const note = detail.querySelector("[data-clip-note]");
    note.hidden = false;
    note.textContent = `Fetching footage of ${hit.camera_id} from ${when(since)} to ${when(until)}…`;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) {
        const text = await response.text();
        let detailText = `${response.status} ${response.statusText}`;
        try { detailText = JSON.parse(text).detail || detailText; } catch { /* not JSON */ }
        throw new Error(detailText);
      }
      const blob = await response.blob();
      if (Number(detail.dataset.sightingId) !== id) return; // another sighting was chosen meanwhile
      video.src = URL.createObjectURL(blob);
      video.dataset.sightingId = id;
      video.dataset.clipUrl = url;
      video.hidden = false;
      note.textContent = `Footage of ${hit.camera_id} from ${when(since)} to ${when(until)} (this view is recorded in the audit log).`;
      video.play().catch(() => { /* autoplay may be refused; the controls are there */ });
    } catch (error) {
      note.textContent = `No clip: ${error.message}`;
      notice(`No clip: ${error.message}`, true);
    }
  }

  detail.querySelector("button[data-action=open-clip]").addEventListener("click", openClip);
});
