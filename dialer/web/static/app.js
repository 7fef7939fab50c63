// The console's own JavaScript (no build step). Everything works without it;
// it adds: live progress over server-sent events, drag and drop onto file
// inputs, and playing a per-contact preview in the page.
"use strict";

//: while only the figures change, the server-rendered parts (chart) follow at most this often
const FIGURES_REFRESH_MS = 5000;

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

// How the live figures differ from what the server rendered into the page:
// "state" (a campaign appeared, went or changed state: the state block and its
// buttons are stale), "figures" (only outcomes changed: the chart is stale) or "".
function difference(shown, live) {
  if (shown.length !== live.length) return "state";
  let figures = false;
  for (let i = 0; i < live.length; i++) {
    const a = shown[i], b = live[i];
    if (a.campaign !== b.campaign || a.state !== b.state) return "state";
    const ka = Object.keys(a.outcomes || {}), kb = Object.keys(b.outcomes || {});
    if (ka.length !== kb.length || kb.some((k) => (a.outcomes || {})[k] !== b.outcomes[k])) figures = true;
  }
  return figures ? "figures" : "";
}

// Swap the page's server-rendered sections ([data-follow] with an id) for fresh
// ones, keeping what the user typed and where the focus was.
function swapSections(doc) {
  const focused = document.activeElement && document.activeElement.id;
  document.querySelectorAll("[data-follow][id]").forEach((old) => {
    const fresh = doc.getElementById(old.id);
    if (!fresh) return;
    old.querySelectorAll("input[id], textarea[id]").forEach((input) => {
      const twin = fresh.querySelector(`#${CSS.escape(input.id)}`);
      if (twin && input.type !== "hidden" && input.value !== input.defaultValue) twin.value = input.value;
    });
    old.replaceWith(document.adoptNode(fresh));
  });
  const again = focused && document.getElementById(focused);
  if (again && again !== document.activeElement) again.focus();
}

// Keeps the server-rendered parts (state, buttons, charts) in step with the live feed.
function follower(root) {
  if (!root.dataset.rendered) return () => {};
  let shown = JSON.parse(root.dataset.rendered);
  let busy = false, timer = null, last = 0;
  async function refresh(stateChanged) {
    timer = null;
    if (busy) return;
    busy = true;
    last = Date.now();
    try {
      const reply = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
      if (!reply.ok || reply.redirected) return; // logged out meanwhile: leave the page as it is
      const doc = new DOMParser().parseFromString(await reply.text(), "text/html");
      const fresh = doc.querySelector("[data-rendered]");
      if (!fresh) return;
      swapSections(doc);
      const next = JSON.parse(fresh.dataset.rendered);
      // "Campaign 'x' is now running." told of a state that has passed; a refresh for
      // the figures may be the one that brings the new state (a state event that came
      // while it ran found it busy), so compare what the page shows now as well
      if (stateChanged || difference(shown, next) === "state") {
        document.querySelectorAll(".flash").forEach((el) => el.remove());
      }
      shown = next;
    } catch (e) {
      // the next event tries again
    } finally {
      busy = false;
    }
  }
  return (live) => {
    const change = difference(shown, live);
    if (change === "state") {
      clearTimeout(timer);
      refresh(true);
    } else if (change === "figures" && timer === null) {
      timer = setTimeout(refresh, Math.max(0, last + FIGURES_REFRESH_MS - Date.now()));
    }
  };
}

function liveProgress(root) {
  if (!window.EventSource) return;
  const follow = follower(root);
  const source = new EventSource(root.dataset.live);
  source.addEventListener("progress", (event) => {
    const live = JSON.parse(event.data);
    for (const c of live) {
      document.querySelectorAll(`[data-campaign="${CSS.escape(c.campaign)}"]`).forEach((item) => updateProgress(item, c));
    }
    follow(live);
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
  // one feed per page: a section swapped in later brings its own data-live, not a second feed
  const live = document.querySelector("[data-live]");
  if (live) liveProgress(live);
  document.querySelectorAll("[data-dropzone]").forEach(dropZone);
  document.querySelectorAll("[data-preview]").forEach(previewPlayer);
});
