// Copy buttons, keyboard shortcuts, the title renamed in place, and turns sent from another tab.
// Model output is never turned into HTML here: code is read with textContent, answers are
// fetched as text/plain (chat/views/copy.py) and only ever handed to the clipboard.
(function () {
  "use strict";

  const CONFIRM_MS = 1500;
  // A column that just finished may not be saved yet (the server answers 409): ask again.
  const SOURCE_TRIES = 20;
  const SOURCE_WAIT_MS = 250;

  document.documentElement.classList.add("tools-ready");

  function isTyping(target) {
    return Boolean(target && target.closest && target.closest("input, textarea, select, [contenteditable]"));
  }

  // -- the announcer -----------------------------------------------------------------------
  // Made with the page, not at the first copy: a live region must exist before it speaks.
  let announcer = null;
  function makeAnnouncer() {
    announcer = document.createElement("div");
    announcer.className = "sr-only tools-announcer";
    // A live region without role=status: the run's status line is the page's one status.
    announcer.setAttribute("aria-live", "polite");
    announcer.setAttribute("aria-atomic", "true");
    document.body.appendChild(announcer);
  }

  function announce(message) {
    announcer.textContent = "";
    // A change the screen reader notices even when the same words come twice.
    window.setTimeout(function () { announcer.textContent = message; }, 50);
  }

  // -- copy --------------------------------------------------------------------------------
  function legacyCopy(text) {
    const box = document.createElement("textarea");
    box.value = text;
    box.setAttribute("readonly", "");
    box.className = "copy-scratch";
    document.body.appendChild(box);
    box.select();
    let done = false;
    try { done = document.execCommand("copy"); } catch (error) { done = false; }
    box.remove();
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return legacyCopy(text); });
    }
    return legacyCopy(text);
  }

  function wait(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  async function fetchSource(url) {
    for (let attempt = 0; attempt < SOURCE_TRIES; attempt += 1) {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/plain" } });
      if (response.ok) {
        return response.text();
      }
      if (response.status !== 409) {
        throw new Error("HTTP " + response.status);
      }
      await wait(SOURCE_WAIT_MS);
    }
    throw new Error("still saving");
  }

  function codeOf(button) {
    const pre = button.closest(".code-block").querySelector("pre");
    const text = pre ? pre.textContent : "";
    // The rendered block ends with the fence's line break, which is no part of the code.
    return text.endsWith("\n") ? text.slice(0, -1) : text;
  }

  // An answer's text arrives after the click. Safari only lets the clipboard be written while
  // the click is being handled, so the write starts now and is handed the text when it comes.
  function copyFetched(url) {
    const text = fetchSource(url);
    if (window.ClipboardItem && navigator.clipboard && navigator.clipboard.write && window.isSecureContext) {
      const blob = text.then(function (value) { return new Blob([value], { type: "text/plain" }); });
      return navigator.clipboard.write([new window.ClipboardItem({ "text/plain": blob })])
        .catch(function () { return text.then(writeClipboard); });
    }
    return text.then(writeClipboard);
  }

  function copyFor(button) {
    if (button.dataset.copyUrl) {
      return copyFetched(button.dataset.copyUrl);
    }
    if (button.dataset.copyFrom) {
      const field = document.getElementById(button.dataset.copyFrom);
      return writeClipboard(field ? field.value : "");
    }
    return writeClipboard(codeOf(button));
  }

  function confirmCopy(button, ok) {
    if (!button.dataset.label) {
      button.dataset.label = button.textContent;
    }
    window.clearTimeout(Number(button.dataset.timer || 0));
    button.textContent = ok ? "Copied ✓" : "Copy failed";
    button.classList.toggle("copied", ok);
    button.classList.toggle("copy-failed", !ok);
    announce(ok ? "Copied to the clipboard." : "Could not copy to the clipboard.");
    button.dataset.timer = String(window.setTimeout(function () {
      button.textContent = button.dataset.label;
      button.classList.remove("copied", "copy-failed");
    }, CONFIRM_MS));
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button.copy");
    if (!button) {
      return;
    }
    event.preventDefault();
    copyFor(button)
      .then(function () { confirmCopy(button, true); }, function () { confirmCopy(button, false); });
  });

  // Every finished code block in model output gets its own Copy button. Blocks still streaming
  // (a column's tail, replaced at every frame) get theirs once they settle.
  function addCodeButtons(root) {
    const blocks = root.querySelectorAll ? root.querySelectorAll(".markdown pre") : [];
    const own = root.matches && root.matches(".markdown pre") ? [root] : [];
    own.concat(Array.from(blocks)).forEach(function (pre) {
      if (pre.parentElement.classList.contains("code-block") || pre.closest("[id$='-tail']")) {
        return;
      }
      const wrap = document.createElement("div");
      wrap.className = "code-block";
      pre.parentElement.insertBefore(wrap, pre);
      wrap.appendChild(pre);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy copy-code";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy the code");
      wrap.appendChild(button);
    });
  }

  function watchCodeBlocks() {
    addCodeButtons(document.body);
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        record.addedNodes.forEach(function (node) {
          if (node.nodeType === Node.ELEMENT_NODE) { addCodeButtons(node); }
        });
      });
    }).observe(document.body, { childList: true, subtree: true });
  }

  // -- keyboard shortcuts ------------------------------------------------------------------
  const help = function () { return document.getElementById("shortcuts"); };
  let helpOpener = null;

  function openHelp(opener) {
    const dialog = help();
    if (dialog && !dialog.open) {
      helpOpener = opener || document.activeElement;
      dialog.showModal();
    }
  }

  document.addEventListener("close", function (event) {
    if (event.target === help() && helpOpener && helpOpener.focus) {
      helpOpener.focus();
      helpOpener = null;
    }
  }, true);

  document.addEventListener("click", function (event) {
    const opener = event.target.closest && event.target.closest(".shortcuts-open");
    if (opener) { openHelp(opener); }
  });

  function newChat() {
    const link = document.querySelector("a.new-chat");
    window.location.assign(link ? link.href : "/");
  }

  function focusComposer() {
    const box = document.querySelector("#composer textarea");
    if (box) {
      box.focus();
      return true;
    }
    return false;
  }

  function jumpToFused() {
    const all = document.querySelectorAll("section.fused");
    const last = all[all.length - 1];
    if (!last) {
      return false;
    }
    const hidden = last.closest("details:not([open])");
    if (hidden) { hidden.open = true; }
    if (!last.hasAttribute("tabindex")) { last.setAttribute("tabindex", "-1"); }
    last.scrollIntoView({ block: "start", behavior: "smooth" });
    last.focus({ preventScroll: true });
    last.classList.add("jumped");
    window.setTimeout(function () { last.classList.remove("jumped"); }, CONFIRM_MS);
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) {
      return;
    }
    const key = event.key;
    // Ctrl+Shift+O (⌘+Shift+O): a new chat, from anywhere, as in other chat apps.
    if ((event.ctrlKey || event.metaKey) && event.shiftKey && !event.altKey && (key === "O" || key === "o")) {
      event.preventDefault();
      newChat();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) {
      return;
    }
    if (help() && help().open) {
      return; // the dialog has its own keys: Esc closes it
    }
    let handled = false;
    if (key === "?") {
      handled = Boolean(help());
      openHelp(null);
    } else if (key === "/") {
      handled = focusComposer();
    } else if (key === "f" || key === "F") {
      handled = jumpToFused();
    }
    if (handled) { event.preventDefault(); }
  });

  // -- the title, renamed in place ---------------------------------------------------------
  function titleEditor() { return document.querySelector("#conversation-head details.title-edit"); }

  document.addEventListener("click", function (event) {
    const heading = event.target.closest && event.target.closest("#conversation-title");
    const editor = titleEditor();
    if (heading && editor) { editor.open = true; }
  });

  document.addEventListener("toggle", function (event) {
    const editor = event.target;
    if (!(editor.matches && editor.matches("#conversation-head details.title-edit"))) {
      return;
    }
    const input = editor.querySelector("input[name=title]");
    if (editor.open) {
      input.focus();
      input.select();
    } else {
      input.value = input.defaultValue; // closed unsaved: nothing typed is kept
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    const input = event.target;
    if (event.key !== "Escape" || !(input.matches && input.matches("#conversation-head input[name=title]"))) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    const editor = input.closest("details");
    input.value = input.defaultValue;
    editor.open = false;
    editor.querySelector("summary").focus();
  }, true);

  document.addEventListener("focusout", function (event) {
    const input = event.target;
    if (!(input.matches && input.matches("#conversation-head input[name=title]"))) {
      return;
    }
    const editor = input.closest("details");
    // Leaving for Save or Cancel: their own click decides.
    if (!editor.open || (event.relatedTarget && editor.contains(event.relatedTarget))) {
      return;
    }
    if (input.value.trim() && input.value !== input.defaultValue) {
      input.form.requestSubmit();
    } else {
      editor.open = false;
    }
  });

  // A rename, here or in the sidebar's menu (chat/views/history.py sends this event): the
  // heading, the sidebar entry and the tab's title all show the new title.
  document.addEventListener("conversationRenamed", function (event) {
    const id = String(event.detail.id);
    const title = String(event.detail.title);
    const heading = document.getElementById("conversation-title");
    if (heading && heading.dataset.conversation === id) {
      const old = heading.textContent;
      if (document.title.startsWith(old)) {
        document.title = title + document.title.slice(old.length);
      }
      heading.textContent = title;
      const input = document.querySelector("#conversation-head input[name=title]");
      if (input) { input.value = title; input.defaultValue = title; }
    }
    const item = document.getElementById("conversation-" + id);
    if (item) {
      const link = item.querySelector(".conversation-link");
      if (link) { link.textContent = title; }
      const input = item.querySelector("input[name=title]");
      if (input) { input.value = title; input.defaultValue = title; }
      const label = item.querySelector("summary .sr-only");
      if (label) { label.textContent = "Actions for " + title; }
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const editor = titleEditor();
    if (editor && editor.open && event.detail.target && event.detail.target.id === "conversation-head") {
      editor.querySelector("input[name=title]").focus();
    }
  });

  // -- turns sent from elsewhere -----------------------------------------------------------
  // The conversation's socket (chat.consumers.ConversationConsumer) puts the news of a run added
  // to it in #run-news. This page fetches that run's turn unless it shows the run already; it
  // waits while a request of its own is out, since that one may be bringing the same turn.
  const NEWS_HEADER = "X-Fusion-News";
  const news = [];
  let inFlight = 0;

  function showNews() {
    if (inFlight > 0 || !window.htmx) {
      return;
    }
    while (news.length) {
      const item = news.shift();
      if (document.getElementById(item.run)) {
        continue;
      }
      const turn = document.getElementById(item.turn);
      const headers = {};
      headers[NEWS_HEADER] = "1";
      if (turn) {
        window.htmx.ajax("GET", item.url, { target: turn, swap: "outerHTML", headers: headers });
      } else {
        window.htmx.ajax("GET", item.url, { target: "#thread", swap: "beforeend", headers: headers });
      }
      return; // one at a time: the next waits for this one's swap
    }
  }

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    const box = event.detail.target;
    if (!box || box.id !== "run-news") {
      return;
    }
    box.querySelectorAll("span[data-turn]").forEach(function (span) {
      news.push({ turn: span.dataset.turn, run: span.dataset.run, url: span.dataset.url });
    });
    box.textContent = "";
    showNews();
  });

  document.addEventListener("htmx:beforeSend", function () { inFlight += 1; });
  document.addEventListener("htmx:afterRequest", function () {
    inFlight = Math.max(0, inFlight - 1);
    window.setTimeout(showNews, 0);
  });

  // Two answers may bring the same turn (this tab's send, and the news of it): one is shown.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    if (!target || target.id !== "thread" || !event.detail.serverResponse) {
      return;
    }
    const incoming = new DOMParser().parseFromString(event.detail.serverResponse, "text/html");
    const ours = Boolean((event.detail.requestConfig.headers || {})[NEWS_HEADER]);
    incoming.querySelectorAll("article.turn[id]").forEach(function (turn) {
      const shown = document.getElementById(turn.id);
      if (!shown) {
        return;
      }
      if (ours) {
        event.detail.shouldSwap = false;
      } else {
        shown.remove(); // the page's own request has the last word
      }
    });
  });

  function start() {
    makeAnnouncer();
    watchCodeBlocks();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
