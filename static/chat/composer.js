// The composer: Send becomes Stop while a run of the conversation is going (Esc stops it too),
// a character counter near the limit, and a refusal brought into view.
// Without this script the server still refuses a follow-up while a run goes, and Stop still posts.
(function () {
  "use strict";

  // The counter shows from this share of the limit on: far below it, it is noise.
  const COUNT_FROM = 0.8;

  function composer() {
    return document.getElementById("composer");
  }

  // The run still going in the thread, if any: the gate lets one go at a time per conversation.
  function runningRun() {
    const going = document.querySelectorAll("#thread section.run[data-status='running'][data-stop-url]");
    return going.length ? going[going.length - 1] : null;
  }

  function syncBusy() {
    const form = composer();
    if (!form) { return; }
    const run = runningRun();
    const stop = form.querySelector("button.stop-run");
    if (run) {
      form.setAttribute("data-busy", "");
      if (stop) { stop.setAttribute("formaction", run.dataset.stopUrl); }
    } else if (form.hasAttribute("data-busy")) {
      const hadFocus = stop && document.activeElement === stop;
      form.removeAttribute("data-busy");
      // Focus on the Stop button must not vanish with it.
      if (hadFocus) { form.querySelector("button.send").focus(); }
    }
  }

  function stopRun() {
    const form = composer();
    const stop = form && form.hasAttribute("data-busy") && form.querySelector("button.stop-run");
    if (!stop || !stop.getAttribute("formaction") || stop.disabled) { return false; }
    stop.disabled = true;
    window.htmx.ajax("POST", stop.getAttribute("formaction"), { source: stop, swap: "none" }).finally(function () {
      stop.disabled = false;
    });
    return true;
  }

  function updateCount() {
    const form = composer();
    const box = form && form.querySelector("textarea[data-limit]");
    const count = form && form.querySelector(".char-count");
    if (!box || !count) { return; }
    const limit = Number(box.dataset.limit);
    const length = box.value.length;
    count.hidden = length < limit * COUNT_FROM;
    count.classList.toggle("over", length > limit);
    count.textContent = length.toLocaleString("en-US") + " / " + limit.toLocaleString("en-US") +
      (length > limit ? " — too long to send" : "");
  }

  // A refusal replaces the composer: its message is read out (role=alert) and brought into view.
  function showRefusal() {
    const form = composer();
    const error = form && form.querySelector(".composer-error:not([data-shown])");
    if (!error) { return; }
    error.setAttribute("data-shown", "");
    const box = form.querySelector("textarea");
    if (box) { box.focus({ preventScroll: true }); }
    error.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("click", function (event) {
    const stop = event.target.closest && event.target.closest("#composer button.stop-run");
    if (stop && window.htmx) {
      event.preventDefault();
      stopRun();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented || event.isComposing) { return; }
    // Esc closes an open menu or dialog first; it stops a run only when nothing else takes it.
    if (document.querySelector("dialog[open], details.item-actions[open]")) { return; }
    if (stopRun()) { event.preventDefault(); }
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("#composer textarea")) { updateCount(); }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    // After an outerHTML swap the target may be the element replaced: look at the page instead.
    updateCount();
    showRefusal();
    syncBusy();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    // The box was emptied for a run that started (app.js): the counter and the estimate follow.
    const form = event.detail.elt;
    const started = event.detail.xhr && event.detail.xhr.status < 300;
    const box = started && form && form.id === "composer" && form.querySelector("textarea");
    if (box) { box.dispatchEvent(new Event("input", { bubbles: true })); }
  });

  function start() {
    updateCount();
    syncBusy();
    showRefusal();
    // A run's section is replaced by live frames (chat.runs.frames) as it goes and ends.
    const thread = document.getElementById("thread");
    if (thread) {
      let queued = false;
      new MutationObserver(function () {
        if (queued) { return; }
        queued = true;
        window.requestAnimationFrame(function () { queued = false; syncBusy(); });
      }).observe(thread, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-status"] });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
