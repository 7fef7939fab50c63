// The console's own JavaScript (no build step). Everything works without it;
// it adds: live progress over server-sent events, drag and drop onto file
// inputs, and playing a per-contact preview in the page.
"use strict";

function updateProgress(item, c) {
  const pct = c.total === 0 ? 100 : Math.min(100, Math.round((100 * c.done) / c.total));
  const set = (name, text) => { const el = item.querySelector(`[data-field="${name}"]`); if (el) el.textContent = text; };
  const bar = item.querySelector('[data-field="bar"]');
  if (bar) { bar.value = pct; bar.textContent = pct + "%"; }
  set("count", `${c.done}/${c.total} (${pct}%)`);
  set("rate", c.running ? `${(c.calls_per_second || 0).toFixed(1)} calls/s` : "");
  set("eta", c.running && c.eta_seconds ? `ETA ${Math.round(c.eta_seconds)} s` : "");
  set("state", c.state || (c.running ? "running" : "idle"));
  const badge = item.querySelector('[data-field="state"]');
  if (badge) badge.classList.toggle("live", !!c.running);
  const outcomes = Object.keys(c.outcomes || {}).sort().map((k) => `${k} ${c.outcomes[k]}`);
  set("outcomes", outcomes.join(" · "));
}

function liveProgress(list) {
  if (!window.EventSource) return;
  const source = new EventSource(list.dataset.live);
  source.addEventListener("progress", (event) => {
    for (const c of JSON.parse(event.data)) {
      const item = list.querySelector(`[data-campaign="${CSS.escape(c.campaign)}"]`);
      if (item) updateProgress(item, c);
    }
  });
}

function dropZone(zone) {
  const input = zone.querySelector('input[type="file"]');
  if (!input) return;
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) input.files = e.dataTransfer.files;
  });
}

function previewPlayer(form) {
  const player = document.querySelector("[data-preview-player]");
  if (!player) return;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    player.src = form.action + "?" + new URLSearchParams(new FormData(form)).toString();
    player.hidden = false;
    player.play().catch(() => {});
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach(liveProgress);
  document.querySelectorAll("[data-dropzone]").forEach(dropZone);
  document.querySelectorAll("[data-preview]").forEach(previewPlayer);
});
