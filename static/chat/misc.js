// What the user types survives the swaps of the form it is typed in (the panel builder).
// A form marked data-keep-typed is replaced by each of its own updates (a seat clicked, a judge
// picked), and the server makes the new form from the values the request carried: a field typed
// into after the request left would come back as it was then, wiping what the user typed.
// So a field typed into since its update was sent keeps its value, and the caret, through the swap.
// Likewise a disclosure (<details id>) the user opened stays open: the server cannot know it is.
(function () {
  "use strict";

  const sentAt = new WeakMap(); // xhr -> when the request left
  const typedAt = new Map(); // field id -> when the user last changed it
  let keep = null; // field id -> {value, checked, start, end}, from a swap's beforeSwap to its afterSwap
  let opened = []; // ids of the form's open <details>, from a swap's beforeSwap to its afterSwap

  function keptForm(target) {
    return target && target.matches && target.matches("[data-keep-typed]") ? target : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    sentAt.set(event.detail.xhr, performance.now());
  });

  document.addEventListener("input", function (event) {
    const field = event.target;
    if (field.id && field.form && field.form.matches("[data-keep-typed]")) {
      typedAt.set(field.id, performance.now());
    }
  }, true);

  document.addEventListener("htmx:beforeSwap", function (event) {
    const form = keptForm(event.detail.target);
    const sent = sentAt.get(event.detail.xhr);
    if (!form || sent === undefined) { return; }
    opened = Array.from(form.querySelectorAll("details[id][open]"), function (details) { return details.id; });
    keep = new Map();
    typedAt.forEach(function (at, id) {
      const field = document.getElementById(id);
      if (at >= sent && field && form.contains(field)) {
        const focused = document.activeElement === field && typeof field.selectionStart === "number";
        keep.set(id, {
          value: field.value,
          checked: field.checked,
          start: focused ? field.selectionStart : null,
          end: focused ? field.selectionEnd : null,
        });
      }
    });
  });

  document.addEventListener("htmx:afterSwap", function () {
    opened.forEach(function (id) {
      const details = document.getElementById(id);
      if (details && details.tagName === "DETAILS") { details.open = true; }
    });
    opened = [];
    if (!keep) { return; }
    keep.forEach(function (kept, id) {
      const field = document.getElementById(id);
      if (!field) { return; }
      if (field.type === "checkbox" || field.type === "radio") {
        field.checked = kept.checked;
      } else {
        field.value = kept.value;
      }
      if (kept.start !== null && document.activeElement === field) {
        field.setSelectionRange(kept.start, kept.end);
      }
    });
    keep = null;
  });
})();

// A Save clicked while an update of its form is in flight is sent once that update has landed,
// from the form it left. The builder's requests queue one behind the other (hx-sync), but the
// update's answer replaces the form, and htmx drops a queued request whose element left the page:
// the Save was lost. So the form's own submit waits here instead, then goes from the new form.
(function () {
  "use strict";

  const inFlight = new Set(); // xhrs of updates whose answer replaces a data-keep-typed form
  let pending = null; // {formId, submitterName}: a Save waiting for those updates

  function keptForm(element) {
    return element && element.matches && element.matches("form[data-keep-typed]") ? element : null;
  }

  function ownSubmit(event) {
    // The form's own action (Save), not an update button's formaction.
    return !event.submitter || !event.submitter.hasAttribute("formaction");
  }

  document.addEventListener("submit", function (event) {
    const form = keptForm(event.target);
    if (!form || !form.id || inFlight.size === 0 || !ownSubmit(event)) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    pending = { formId: form.id, submitterName: event.submitter ? event.submitter.textContent : null };
  }, true);

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (keptForm(event.detail.target)) { inFlight.add(event.detail.xhr); }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    inFlight.delete(event.detail.xhr);
    if (!pending || inFlight.size > 0) { return; }
    const waiting = pending;
    pending = null;
    // After htmx has finished with this answer (its swap, and the typed values put back).
    queueMicrotask(function () {
      const form = document.getElementById(waiting.formId);
      if (!form) { return; }
      const submitter = Array.from(form.querySelectorAll("button[type=submit]:not([formaction])"))
        .find(function (button) { return button.textContent === waiting.submitterName; });
      form.requestSubmit(submitter || undefined);
    });
  });
})();

// The line under the composer's panel picker says who sits in the chosen panel (its option's
// data-lineup, made by chat.forms.PanelSelect); it follows the choice, and a swapped-in composer.
(function () {
  "use strict";

  function showLineup() {
    const picker = document.querySelector("select[aria-describedby='panel-lineup']");
    const line = document.getElementById("panel-lineup");
    if (!picker || !line) { return; }
    const chosen = picker.selectedOptions[0];
    line.textContent = chosen ? chosen.dataset.lineup || "" : "";
  }

  // The Auto-fuse toggle beside the picker starts as the chosen panel is (data-auto-fuse); the
  // reader may then tick or untick it for this message. Told as a change, so the estimate follows.
  function followAutoFuse(picker) {
    const toggle = picker.form && picker.form.querySelector("input[type=checkbox][name=auto_fuse]");
    const chosen = picker.selectedOptions[0];
    if (!toggle || !chosen || !chosen.dataset.autoFuse) { return; }
    const auto = chosen.dataset.autoFuse === "true";
    if (toggle.checked !== auto) {
      toggle.checked = auto;
      toggle.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[aria-describedby='panel-lineup']")) {
      showLineup();
      followAutoFuse(event.target);
    }
  });
  document.addEventListener("htmx:load", showLineup);
  document.addEventListener("DOMContentLoaded", showLineup);
  showLineup();
})();
