// Reading a run: a new turn and its fused answer brought into view, the stage pills, the jump
// link and the analysis chips as in-page links, the seat strip over many columns (and the phone's
// one seat at a time), and the spend summary fetched again when a run ends.
// It learns everything from the DOM (no ids are spelled here: chat.runs.protocol owns them).
(function () {
  "use strict";

  const thread = document.getElementById("thread");
  if (!thread) {
    return;
  }
  const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  function behavior() {
    return reduceMotion.matches ? "auto" : "smooth";
  }

  // A sticky or fixed top bar would cover what is scrolled to the top: leave room for it.
  function leaveRoomForTheTopBar() {
    const bar = document.querySelector(".topbar");
    const position = bar ? getComputedStyle(bar).position : "";
    const room = position === "sticky" || position === "fixed" ? bar.getBoundingClientRect().height : 0;
    document.documentElement.style.setProperty("--runview-top", Math.ceil(room) + "px");
  }

  function scrollToTop(element) {
    leaveRoomForTheTopBar();
    element.scrollIntoView({ behavior: behavior(), block: "start" });
  }

  // A brief ring around what a link led to, so the eye finds it.
  function highlight(element) {
    element.classList.remove("highlight");
    void element.offsetWidth; // restart the animation
    element.classList.add("highlight");
  }
  document.addEventListener("animationend", function (event) {
    if (event.animationName === "runview-highlight") {
      event.target.classList.remove("highlight");
    }
  });

  // --- Following a run the reader started, unless they scroll elsewhere -----------------------

  // Run section id -> {moved, fusedShown, consultShown}; only runs asked for on this page are followed.
  const followed = new Map();

  function follow(turn) {
    turn.querySelectorAll("section.run[data-status=running]").forEach(function (run) {
      followed.set(run.id, { moved: false, fusedShown: false, consultShown: false });
    });
  }

  function readerMoved() {
    followed.forEach(function (state) { state.moved = true; });
  }

  function isEditable(element) {
    return element && element.closest && element.closest("input, textarea, select, [contenteditable]");
  }
  // The page scrolling soon after the reader's own wheel, touch or key is the reader moving;
  // a swipe along the columns or a scroll inside one scrolls no page, and is not.
  const SCROLL_KEYS = ["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End", " "];
  let inputAt = 0;
  function input() { inputAt = Date.now(); }
  window.addEventListener("wheel", input, { passive: true });
  window.addEventListener("touchmove", input, { passive: true });
  window.addEventListener("keydown", function (event) {
    if (SCROLL_KEYS.includes(event.key) && !isEditable(event.target)) { input(); }
  });
  window.addEventListener("mousedown", function (event) {
    if (event.target === document.documentElement) { input(); } // the page's scroll bar
  });
  window.addEventListener("scroll", function () {
    if (Date.now() - inputAt < 600) { readerMoved(); }
  }, { passive: true });

  function showFused(run) {
    const fused = run.querySelector(".fused");
    if (fused) {
      scrollToTop(fused);
    }
  }

  // --- New turns -------------------------------------------------------------------------------

  // Someone who opens a conversation while its last run is going (a first message lands on
  // its new page; a reload) is following that run too.
  const lastTurn = thread.querySelector("article.turn:last-of-type");
  if (lastTurn) { follow(lastTurn); }

  const knownTurns = new Set(Array.from(thread.querySelectorAll("article.turn"), function (turn) { return turn.id; }));

  // A turn this page asked for arrives soon after its POST; one that another tab sent (shown
  // here live) must not move this page.
  let postedAt = 0;
  document.addEventListener("htmx:beforeRequest", function (event) {
    // Only what asks for a run counts: the composer's send, a turn's retry, re-run or edit (the
    // estimate beside Send, a rename or a copy are requests too, and bring no turn).
    const config = event.detail && event.detail.requestConfig;
    const elt = event.detail && event.detail.elt;
    const asks = elt && elt.matches && elt.matches("form#composer, article.turn form");
    if (config && String(config.verb).toLowerCase() === "post" && asks) { postedAt = Date.now(); }
  });

  function turnArrived(turn) {
    const known = knownTurns.has(turn.id);
    knownTurns.add(turn.id);
    if (Date.now() - postedAt > 60000) {
      return;
    }
    if (known) {
      follow(turn); // a retry or a re-run replaced the turn: the reader is already there
      return;
    }
    // Room below the prompt, so that it can reach the top of the viewport.
    thread.querySelectorAll("article.turn.fresh").forEach(function (old) { old.classList.remove("fresh"); });
    turn.classList.add("fresh");
    follow(turn);
    refreshSpend();
    const prompt = turn.querySelector(".prompt") || turn;
    // After htmx has finished its own swap and scroll.
    requestAnimationFrame(function () {
      setTimeout(function () { scrollToTop(prompt); }, 0);
    });
  }

  // --- The spend summary ---------------------------------------------------------------------

  function refreshSpend() {
    const spend = document.querySelector("details.spend[data-refresh-url]");
    if (!spend || !window.htmx) {
      return;
    }
    const url = spend.dataset.refreshUrl + (spend.open ? "" : "?open=0");
    window.htmx.ajax("GET", url, { target: spend, swap: "outerHTML" });
  }

  // --- Runs changing: stages, endings, columns ----------------------------------------------

  const running = new Set();

  function watchRuns() {
    thread.querySelectorAll("section.run").forEach(function (run) {
      const state = followed.get(run.id);
      if (run.dataset.status === "running") {
        running.add(run.id);
        const progress = run.querySelector(".progress");
        // An Auto-fuse run begins with its model answering; if it consults the panel, the reader
        // is shown its query and the seats, then the answer again as the model goes on.
        const consulting = run.querySelector(".consult.consulting");
        if (state && !state.consultShown && consulting) {
          state.consultShown = true;
          state.fusedShown = false;
          if (!state.moved) { scrollToTop(consulting); }
        }
        if (state && !state.fusedShown && progress && progress.dataset.stage === "fused" && !consulting) {
          state.fusedShown = true;
          if (!state.moved) { showFused(run); }
        }
        return;
      }
      if (!running.has(run.id)) {
        return;
      }
      running.delete(run.id);
      refreshSpend();
      if (state) {
        followed.delete(run.id);
        const fused = run.querySelector(".fused .answer");
        if (!state.moved && fused && fused.textContent.trim()) {
          showFused(run);
        }
      }
    });
  }

  // Which columns of a run are in view, said by the seat strip, its count and the edge cues.
  function columnsInView(columns) {
    const box = columns.getBoundingClientRect();
    const run = columns.closest("section.run");
    const seats = columns.querySelectorAll(".column");
    const inView = [];
    seats.forEach(function (column) {
      const rect = column.getBoundingClientRect();
      const shown = Math.min(rect.right, box.right) - Math.max(rect.left, box.left);
      const visible = rect.width > 0 && shown / rect.width > 0.6;
      if (visible) { inView.push(column); }
      const tab = run && run.querySelector('.seat-tab[href="#' + column.id + '"]');
      if (tab) { tab.classList.toggle("in-view", visible); }
    });
    const count = run && run.querySelector(".seat-count");
    if (count) {
      const total = seats.length + " seat" + (seats.length === 1 ? "" : "s");
      count.textContent = inView.length < seats.length ? total + " · " + inView.length + " in view" : total;
    }
    const frame = columns.parentElement;
    if (frame && frame.classList.contains("columns-frame")) {
      frame.classList.toggle("more-left", columns.scrollLeft > 4);
      frame.classList.toggle("more-right", columns.scrollLeft + columns.clientWidth < columns.scrollWidth - 4);
    }
    // On a phone the strip is a seat switcher: the seat shown is its current one, in sight.
    if (run && inView.length === 1) {
      const tab = run.querySelector('.seat-tab[href="#' + inView[0].id + '"]');
      const strip = tab && tab.closest("ul");
      if (strip && strip.scrollWidth > strip.clientWidth) {
        const left = tab.offsetLeft - strip.offsetLeft;
        if (left < strip.scrollLeft || left + tab.offsetWidth > strip.scrollLeft + strip.clientWidth) {
          strip.scrollLeft = left - 8;
        }
      }
    }
  }

  function updateAllColumns() {
    thread.querySelectorAll(".columns").forEach(columnsInView);
  }

  let scheduled = false;
  function schedule() {
    if (scheduled) { return; }
    scheduled = true;
    requestAnimationFrame(function () {
      scheduled = false;
      watchRuns();
      updateAllColumns();
    });
  }

  new MutationObserver(function (records) {
    let changed = false;
    records.forEach(function (record) {
      record.addedNodes.forEach(function (node) {
        if (node.nodeType !== 1) { return; }
        if (record.target === thread && node.matches("article.turn")) { turnArrived(node); }
        if (node.matches("section.run, section.column, .progress, li[id]")) { changed = true; }
      });
    });
    if (changed) { schedule(); }
  }).observe(thread, { childList: true, subtree: true });

  document.addEventListener("scroll", function (event) {
    if (event.target.classList && event.target.classList.contains("columns")) {
      columnsInView(event.target);
    }
  }, { capture: true, passive: true });
  window.addEventListener("resize", schedule);
  schedule();

  // --- In-page links of a run: pills, the jump, the chips, the seat strip ------------------

  // Bring a seat's column into view by scrolling its row of columns only: the page stays put
  // (the top bar with it) unless the columns are wholly out of sight.
  function revealColumn(column) {
    const columns = column.closest(".columns");
    if (!columns) { return; }
    const left = columns.scrollLeft + column.getBoundingClientRect().left - columns.getBoundingClientRect().left;
    columns.scrollTo({ left: left - parseFloat(getComputedStyle(columns).paddingLeft || "0"), behavior: behavior() });
    const rect = columns.getBoundingClientRect();
    if (rect.bottom < 0 || rect.top > window.innerHeight) {
      columns.scrollIntoView({ behavior: behavior(), block: "nearest" });
    }
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) {
      return;
    }
    const link = event.target.closest && event.target.closest("a.chip, a.seat-tab, .stages a, a.jump-fused");
    if (!link || !thread.contains(link)) { return; }
    const target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!target) { return; }
    event.preventDefault();
    if (link.matches("a.chip, a.seat-tab")) {
      revealColumn(target);
      if (link.matches("a.chip")) { highlight(target); }
      return;
    }
    readerMoved(); // the reader chose where to be
    scrollToTop(target);
    highlight(target);
    // Keyboard and screen-reader users land there too.
    if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    target.focus({ preventScroll: true });
  });
})();
