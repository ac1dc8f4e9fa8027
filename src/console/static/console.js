// spotcheck console: the only script the pages load (the CSP allows no other,
// and no inline script). It does two things:
//
// 1. Live progress. An element with `data-live="/console/…json"` is polled
//    every 1.5 s. The answer is {"version": "...", "items": [{"id", "value",
//    "max", "text"}]}: for each item the element with that id gets its
//    <progress> value/max and its `.live-text` text set (textContent, never
//    HTML). When `version` differs from the element's `data-version` (a run
//    started or ended), the page reloads to show the new state.
// 2. Confirmation. A form with `data-confirm="…"` asks before submitting.
"use strict";

function poll(el) {
  const url = el.getAttribute("data-live");
  fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((data) => {
      if (el.hasAttribute("data-version") && data.version !== el.getAttribute("data-version")) {
        window.location.reload();
        return;
      }
      for (const item of data.items || []) {
        const row = document.getElementById(item.id);
        if (!row) continue;
        const bar = row.querySelector("progress");
        if (bar) {
          bar.max = item.max > 0 ? item.max : 1;
          bar.value = item.value;
        }
        const text = row.querySelector(".live-text");
        if (text) text.textContent = item.text;
      }
      el.setAttribute("data-polled", String(Number(el.getAttribute("data-polled") || "0") + 1));
    })
    .catch(() => {})
    .finally(() => setTimeout(() => poll(el), 1500));
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach(poll);
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
});
