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
    // Only a run that started empties the box: a refusal (422) comes back holding the text.
    if (form.id === "composer" && event.detail.successful && event.detail.xhr.status < 300) {
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

// The sidebar's item menus (rename, delete): one open at a time, the title ready to type,
// Escape or a click elsewhere closes it. Without this script they are plain <details>.
(function () {
  "use strict";

  function closeMenus(except) {
    document.querySelectorAll("details.item-actions[open]").forEach(function (menu) {
      if (menu !== except) { menu.open = false; }
    });
  }

  document.addEventListener("toggle", function (event) {
    const menu = event.target;
    if (menu.matches && menu.matches("details.item-actions") && menu.open) {
      closeMenus(menu);
      const title = menu.querySelector("input[name=title]");
      if (title) { title.focus(); title.select(); }
    }
  }, true);

  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("details.item-actions")) { closeMenus(null); }
  });

  document.addEventListener("keydown", function (event) {
    const menu = event.key === "Escape" && event.target.closest && event.target.closest("details.item-actions[open]");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
})();

// The spend summary was drawn with the page; runs may have finished since: opening it fetches
// it again (the fresh copy arrives open and marked, so it is not fetched twice).
(function () {
  "use strict";

  document.addEventListener("toggle", function (event) {
    const spend = event.target;
    if (!(spend.matches && spend.matches("details.spend[data-refresh-url]"))) {
      return;
    }
    if (!spend.open) {
      delete spend.dataset.fresh;
    } else if (!spend.dataset.fresh && window.htmx) {
      window.htmx.ajax("GET", spend.dataset.refreshUrl, { target: spend, swap: "outerHTML" });
    }
  }, true);
})();

// A request htmx does not swap (a refused retry or re-run: 409, 429; a server error; no network)
// must not fail silently: its reason goes to the page's alert line. Our refusals are short
// plain text; anything else (an HTML error page) is summarised, never inserted.
(function () {
  "use strict";

  function show(message) {
    const line = document.querySelector(".live-error");
    if (line) {
      line.textContent = message;
      line.dataset.fromRequest = "1";
    }
  }

  function reason(xhr) {
    const text = (xhr.responseText || "").trim();
    const plain = text.length > 0 && text.length <= 400 && !/[<>]/.test(text);
    return plain ? text : "That did not work (the server answered " + xhr.status + "). Try again in a moment.";
  }

  document.addEventListener("htmx:responseError", function (event) { show(reason(event.detail.xhr)); });

  document.addEventListener("htmx:sendError", function () {
    show("The server could not be reached. Check your connection and try again.");
  });

  // The next request that works, or a click on the line, clears what a request put there.
  function clear(line) {
    if (line && line.dataset.fromRequest) {
      line.textContent = "";
      delete line.dataset.fromRequest;
    }
  }
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) { clear(document.querySelector(".live-error")); }
  });
  document.addEventListener("click", function (event) {
    clear(event.target.closest && event.target.closest(".live-error"));
  });
})();
