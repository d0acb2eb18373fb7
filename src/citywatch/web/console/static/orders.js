// Orders page: record an order (a circle or a polygon), end or revoke one, through the API.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, notice } = citywatch;

  for (const button of document.querySelectorAll("button[data-action=end], button[data-action=revoke]")) {
    button.addEventListener("click", async () => {
      const verb = button.dataset.action;
      const id = button.dataset.orderId;
      const question = verb === "end"
        ? `End order ${id} now? The person's templates are deleted unless another order keeps them.`
        : `Revoke order ${id} as issued in error? The person's templates are deleted unless another order keeps them.`;
      if (!window.confirm(question)) return;
      button.disabled = true;
      try {
        const result = await api("POST", `/api/orders/${id}/${verb}`);
        const kept = result.kept_by_another_order ? "; another order keeps the templates" : "";
        notice(`Order ${id} ${result.order.status}: ${result.templates_deleted} template(s) deleted${kept}.`);
        window.setTimeout(() => window.location.reload(), 800);
      } catch (error) {
        notice(error.message, true);
        button.disabled = false;
      }
    });
  }

  const form = document.querySelector("form[data-order-form]");
  if (!form) return;

  function showShape() {
    const shape = form.elements.shape.value;
    for (const field of form.querySelectorAll("[data-shape]")) {
      field.hidden = field.dataset.shape !== shape;
    }
  }
  for (const radio of form.querySelectorAll("input[name=shape]")) radio.addEventListener("change", showShape);
  showShape();

  function area() {
    if (form.elements.shape.value === "circle") {
      const [lat, lon, radius] = ["lat", "lon", "radius_m"].map((name) => form.elements[name].value.trim());
      if (!lat || !lon || !radius) throw new Error("a circle needs its centre (latitude, longitude) and radius");
      return { center: { lat: Number(lat), lon: Number(lon) }, radius_m: Number(radius) };
    }
    const corners = form.elements.polygon.value.split(";").map((s) => s.trim()).filter(Boolean);
    const polygon = corners.map((corner) => {
      const [lat, lon] = corner.split(",").map((s) => Number(s.trim()));
      if (!Number.isFinite(lat) || !Number.isFinite(lon)) throw new Error(`not a lat,lon corner: ${corner}`);
      return { lat, lon };
    });
    if (polygon.length < 3) throw new Error("a polygon needs three corners or more");
    return { polygon };
  }

  // datetime-local values are read as UTC, as the console shows every time
  function utc(value) {
    const withSeconds = value.length === 16 ? value + ":00" : value;
    const at = new Date(withSeconds + "Z");
    if (Number.isNaN(at.getTime())) throw new Error(`not a time: ${value}`);
    return at.toISOString();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const body = {
        person: form.elements.person.value.trim(),
        legal_reference: form.elements.legal_reference.value.trim(),
        issuing_authority: form.elements.issuing_authority.value.trim(),
        ends_at: utc(form.elements.ends_at.value),
        area: area(),
      };
      if (form.elements.starts_at.value) body.starts_at = utc(form.elements.starts_at.value);
      const order = await api("POST", "/api/orders", body);
      const checked = order.checked_by.length
        ? `checked by ${order.checked_by.join(", ")}`
        : "no camera checks it yet";
      notice(`Order ${order.id} recorded: ${checked}.`, order.checked_by.length === 0);
      window.setTimeout(() => window.location.reload(), 800);
    } catch (error) {
      notice(error.message, true);
    } finally {
      button.disabled = false;
    }
  });
});
