// The page's chrome: the sidebar as a drawer on a phone, the account menu, and the composer
// growing as you type where the browser cannot do it in CSS. Without this script the drawer is
// still reached through its link (#sidebar, shown by .sidebar:target) and the menu is a <details>.
(function () {
  "use strict";

  const phone = window.matchMedia("(max-width: 800px)");
  let opener = null;

  function drawer() { return document.getElementById("sidebar"); }
  function toggles() { return document.querySelectorAll(".drawer-toggle"); }

  // While the drawer is open the rest of the page can be neither clicked nor tabbed into.
  function setBackground(inert) {
    document.querySelectorAll(".topbar, .main, .flash").forEach(function (el) { el.inert = inert; });
    document.documentElement.classList.toggle("drawer-open", inert);
  }

  function openDrawer(from) {
    const aside = drawer();
    if (!aside) { return; }
    opener = from || null;
    aside.classList.add("is-open");
    aside.setAttribute("role", "dialog");
    aside.setAttribute("aria-modal", "true");
    toggles().forEach(function (t) { t.setAttribute("aria-expanded", "true"); });
    setBackground(true);
    const current = aside.querySelector(".conversation-link[aria-current=page]");
    (current || aside.querySelector(".drawer-close")).focus();
  }

  function closeDrawer() {
    const aside = drawer();
    if (!aside || !aside.classList.contains("is-open")) { return; }
    aside.classList.remove("is-open");
    aside.removeAttribute("role");
    aside.removeAttribute("aria-modal");
    toggles().forEach(function (t) { t.setAttribute("aria-expanded", "false"); });
    setBackground(false);
    const back = opener || toggles()[0];
    opener = null;
    if (back && phone.matches) { back.focus(); }
  }

  function enhance() {
    toggles().forEach(function (t) {
      t.setAttribute("role", "button");
      t.setAttribute("aria-expanded", "false");
    });
    // A reload of a no-JavaScript #sidebar address: open it the scripted way instead.
    if (window.location.hash === "#sidebar" && phone.matches) {
      history.replaceState(null, "", window.location.pathname + window.location.search);
      openDrawer(null);
    }
  }

  document.addEventListener("click", function (event) {
    const target = event.target;
    if (!target.closest) { return; }
    const toggle = target.closest(".drawer-toggle");
    if (toggle) {
      event.preventDefault();
      openDrawer(toggle);
      return;
    }
    const aside = drawer();
    if (!aside || !aside.classList.contains("is-open")) { return; }
    if (target.closest(".drawer-close")) {
      event.preventDefault();
      closeDrawer();
    } else if (!aside.contains(target)) {
      // A tap on the dimmed page (the backdrop) closes the drawer and does nothing else.
      event.preventDefault();
      event.stopPropagation();
      closeDrawer();
    }
  }, true);

  // Captured before anything else hears it: an Escape that closes the drawer does nothing more
  // (such as stopping a run). An item's open menu inside the drawer closes first (app.js); the
  // next Escape closes the drawer.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    const aside = drawer();
    if (aside && aside.classList.contains("is-open") && !aside.querySelector("details[open]")) {
      event.preventDefault();
      event.stopPropagation();
      closeDrawer();
    }
  }, true);

  // Turned wide (a rotated tablet), the sidebar is a sidebar again: nothing may stay inert.
  phone.addEventListener("change", function () { if (!phone.matches) { closeDrawer(); } });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();

// The account menu (a phone's top bar): Escape or a click elsewhere closes it.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    const menu = document.querySelector("details.account-menu[open]");
    if (menu && event.target.closest && !menu.contains(event.target)) { menu.open = false; }
  });

  document.addEventListener("keydown", function (event) {
    const menu = event.key === "Escape" && event.target.closest && event.target.closest("details.account-menu[open]");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
})();

// The composer grows with its text. Chromium does it in CSS (field-sizing: content); elsewhere its
// height follows the text here, within the CSS max-height.
(function () {
  "use strict";

  if (window.CSS && CSS.supports("field-sizing", "content")) { return; }

  function fit(box) {
    box.style.height = "auto";
    box.style.height = box.scrollHeight + 2 + "px";
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("#composer textarea")) { fit(event.target); }
  });
  // Emptied after a send (app.js): back to its first size.
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    const box = form && form.id === "composer" && form.querySelector("textarea");
    if (box) { box.style.height = ""; }
  });
})();
