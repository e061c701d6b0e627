// Settings → API tokens: copy a new token's secret with one click (the field is selectable too).
(function () {
  "use strict";

  function copied(button, text) {
    button.textContent = text;
    setTimeout(function () { button.textContent = "Copy"; }, 2000);
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest ? event.target.closest("[data-copy-from]") : null;
    if (!button) { return; }
    const field = document.getElementById(button.dataset.copyFrom);
    if (!field) { return; }
    field.focus();
    field.select();
    // The Clipboard API needs a secure context (https or localhost); elsewhere the older command.
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { copied(button, "Copied"); },
        function () { copied(button, "Press Ctrl+C"); }
      );
    } else {
      copied(button, document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });
})();
