// Settings → API tokens: a new token's secret is selected whole when its field is focused; its Copy
// button is the page's one copy mechanism (button.copy, static/chat/tools.js).
(function () {
  "use strict";

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });
})();
