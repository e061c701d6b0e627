// FusionRoom's own script: live timers, Enter to send, and the composer's reset.
// Everything else (requests, websocket frames, swaps) is htmx.
(function () {
  "use strict";

  function tickElapsed() {
    const now = Date.now();
    document.querySelectorAll(".elapsed[data-since]").forEach(function (el) {
      const since = Date.parse(el.dataset.since);
      if (!Number.isNaN(since)) {
        el.textContent = ((now - since) / 1000).toFixed(1) + " s";
      }
    });
  }
  setInterval(tickElapsed, 200);

  document.addEventListener("keydown", function (event) {
    const box = event.target;
    if (box.matches && box.matches("#composer textarea") && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      box.form.requestSubmit();
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (form.id === "composer" && event.detail.successful) {
      const box = form.querySelector("textarea");
      if (box) { box.value = ""; box.focus(); }
    }
  });

  // A column follows its stream to the bottom, unless the reader has scrolled up in it.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    const column = event.detail.target && event.detail.target.closest && event.detail.target.closest(".column");
    if (column) {
      column.dataset.pinned = column.scrollHeight - column.scrollTop - column.clientHeight < 40 ? "1" : "";
    }
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    const target = event.detail.target;
    if (!target || !target.closest) {
      return;
    }
    // A reasoning section appears once it has text.
    if (target.classList.contains("reasoning-text")) {
      target.closest("details").removeAttribute("data-empty");
    }
    const column = target.closest(".column");
    if (column && column.dataset.pinned) {
      column.scrollTop = column.scrollHeight;
    }
  });
})();
